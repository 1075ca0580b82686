# Magpie: `make serve` runs it on its embedded default, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SOURCES := pyproject.toml
# The web UI: built from frontend/ into magpie/http/ui/dist/ (not committed).
UI_DIST := magpie/http/ui/dist/index.html
UI_MODULES := frontend/node_modules/.package-lock.json
UI_SOURCES := $(shell find frontend/src frontend/public -type f 2>/dev/null) \
	frontend/index.html frontend/package.json frontend/vite.config.ts frontend/tsconfig.json

.PHONY: serve test test-slow bench lint typecheck clean install ui

$(STAMP): $(SOURCES)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e .
	touch $@

$(TEST_STAMP): $(STAMP) sdk/python/pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	$(BIN)/pip install --quiet -e sdk/python
	touch $@

install: $(STAMP)

$(UI_MODULES): frontend/package-lock.json
	@command -v npm >/dev/null || { echo "building the web UI needs npm (Node.js 20.19 or later)"; exit 1; }
	cd frontend && npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(UI_DIST): $(UI_MODULES) $(UI_SOURCES)
	cd frontend && npm run --silent build

ui: $(UI_DIST)

serve: $(STAMP) $(UI_DIST)
	$(BIN)/magpie serve

test: $(TEST_STAMP)
	scripts/ensure-browser
	$(MAKE) --no-print-directory ui
	$(BIN)/pytest -q -n 2 --dist loadfile

test-slow: $(TEST_STAMP)
	$(BIN)/pytest -q -m slow

bench: $(TEST_STAMP)
	$(BIN)/python bench/ingest.py
	scripts/ensure-services
	$(BIN)/python bench/cluster.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/funnels.py
	$(BIN)/python bench/billing.py
	$(BIN)/python bench/cohorts.py --clickhouse
	$(BIN)/python bench/hostile_capture.py
	$(BIN)/python bench/heavy_queries.py
	$(BIN)/python bench/flags.py --ingest-rate 10000
	$(BIN)/python bench/insights.py
	$(MAKE) --no-print-directory ui
	$(BIN)/python bench/ui.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check magpie tests bench sdk/python
	$(BIN)/mypy magpie sdk/python/magpie_sdk
	cd frontend && npx --no-install tsc --noEmit

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache frontend/node_modules magpie/http/ui/dist
