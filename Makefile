# Magpie: `make serve` runs it on its embedded default, `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TEST_STAMP := $(VENV)/.installed-test
SOURCES := pyproject.toml

.PHONY: serve test test-slow bench lint typecheck clean install

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

serve: $(STAMP)
	$(BIN)/magpie serve

test: $(TEST_STAMP)
	scripts/ensure-browser
	$(BIN)/pytest -q

test-slow: $(TEST_STAMP)
	$(BIN)/pytest -q -m slow

bench: $(TEST_STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/query.py
	$(BIN)/python bench/billing.py
	$(BIN)/python bench/hostile_capture.py

lint: $(TEST_STAMP)
	$(BIN)/ruff check magpie tests bench sdk/python
	$(BIN)/mypy magpie sdk/python/magpie_sdk

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
