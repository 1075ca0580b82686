"""Web UI benchmark: from navigation to a drawn trend chart, beside the query API's
own time for the same query, at 1M and 10M events; and the gzipped size of the
JavaScript and CSS the first page loads.

The data is bench/query.py's (100k users, 30% identified, 20 event names, 30
days), written straight into a data folder; `magpie serve` then serves it and
Debian's Chromium (headless, through Playwright) opens
``/project/{id}/insights/new#q=<the query>`` logged in as a user made with
``magpie user add``. "Drawn" is when the chart's canvas has been painted (the
page records ``performance.now()`` then; 0 is the start of the navigation).
Results go to docs/benchmarks.md.

    python bench/ui.py [--scales 1000000,10000000] [--runs 5] [--no-write]
"""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from _report import machine, table, write_section  # noqa: E402
from _server import MagpieServer  # noqa: E402
from query import generate  # noqa: E402

from magpie.app import Magpie  # noqa: E402
from magpie.settings import Settings  # noqa: E402
from tests.e2e.browser import CHROMIUM_ARGS, chromium_path  # noqa: E402

DOCS = ROOT / "docs" / "benchmarks.md"
EMAIL, PASSWORD = "bench@example.com", "bench password 1"
QUERY = {
    "kind": "TrendsQuery",
    "series": [{"kind": "EventsNode", "event": "$pageview", "math": "total"}],
    "interval": "day",
    "dateRange": {"date_from": "2026-10-01", "date_to": "2026-10-30"},
    "trendsFilter": {"display": "ActionsLineGraph"},
}
TARGET_MS = 1500.0
TARGET_KB = 300.0


@dataclass(frozen=True)
class Result:
    events: int
    drawn_ms: float  # navigation to a drawn chart, median
    api_ms: float  # the query API alone, median
    first_page_gzip: int  # bytes of JS + CSS the page loaded, gzipped


def build_folder(folder: Path, events: int) -> int:
    magpie = Magpie(Settings.load(env={}, data_dir=folder, capture_process=False))
    try:
        project = (
            magpie.projects.all()[0] if magpie.projects.all() else magpie.projects.create("bench")
        )
        started = time.perf_counter()
        generate(magpie.db.cursor(), project.id, events)
        print(f"  generated {events:,} events in {time.perf_counter() - started:.1f} s")
        return project.id
    finally:
        magpie.close()


def add_user(folder: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "magpie.cli",
            "user",
            "add",
            "--data-dir",
            str(folder),
            "--email",
            EMAIL,
        ],
        input=PASSWORD + "\n",
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "MAGPIE_PORT": "1"},  # no server there: the folder
    )


def api_time(url: str, key: str, project_id: int, runs: int) -> float:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=60) as api:

        def once() -> float:
            started = time.perf_counter()
            answer = api.post(f"/api/projects/{project_id}/query/", json={"query": QUERY})
            answer.raise_for_status()
            return (time.perf_counter() - started) * 1000

        once()  # warm-up
        return statistics.median(once() for _ in range(runs))


def browser_time(url: str, project_id: int, runs: int) -> tuple[float, int]:
    from playwright.sync_api import sync_playwright

    target = f"{url}/project/{project_id}/insights/new#q={urllib.parse.quote(json.dumps(QUERY))}"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1360, "height": 900})
        page = context.new_page()
        page.goto(url + "/login")
        page.get_by_label("Email").fill(EMAIL)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url("**/project/**")

        shipped: dict[str, bytes] = {}

        def keep(response: object) -> None:
            request = response.request  # type: ignore[attr-defined]
            if request.resource_type in ("script", "stylesheet") and response.ok:  # type: ignore[attr-defined]
                shipped[response.url] = response.body()  # type: ignore[attr-defined]

        # A fresh load every time: the browser cache would hide the bundle's cost.
        context.new_cdp_session(page).send("Network.setCacheDisabled", {"cacheDisabled": True})

        def once(record: bool = False) -> float:
            page.goto("about:blank")
            if record:
                page.on("response", keep)
            page.goto(target)
            page.wait_for_function("window.__magpieChartDrawnAt !== undefined", timeout=60_000)
            drawn = float(page.evaluate("window.__magpieChartDrawnAt"))
            if record:
                page.remove_listener("response", keep)
            return drawn

        once(record=True)  # warm-up, and what the first page loads
        times = [once() for _ in range(runs)]
        browser.close()
    size = sum(len(gzip.compress(body, 9)) for body in shipped.values())
    return statistics.median(times), size


def measure(events: int, runs: int) -> Result:
    work = Path(tempfile.mkdtemp(prefix="magpie-bench-ui-"))
    try:
        folder = work / "data"
        project_id = build_folder(folder, events)
        add_user(folder)
        with MagpieServer(folder) as server:
            assert server.credentials is not None
            url = f"http://{server.address}"
            api_ms = api_time(url, server.credentials.personal_api_key, project_id, runs)
            drawn_ms, size = browser_time(url, project_id, runs)
        result = Result(events, drawn_ms, api_ms, size)
        print(
            f"  drawn {drawn_ms:.0f} ms after navigation; query API {api_ms:.0f} ms; "
            f"first page JS+CSS {size / 1024:.1f} KiB gzipped"
        )
        return result
    finally:
        shutil.rmtree(work, ignore_errors=True)


def report(results: list[Result], runs: int) -> str:
    rows = [
        (
            f"{r.events:,}",
            f"{r.drawn_ms:,.0f}",
            f"{r.api_ms:,.0f}",
            f"{r.drawn_ms - r.api_ms:,.0f}",
            ("met" if r.drawn_ms <= TARGET_MS else "**missed**") if r.events >= 10_000_000 else "",
        )
        for r in results
    ]
    size = results[-1].first_page_gzip / 1024
    lines = [
        "## Web UI (`bench/ui.py`)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Median of {runs} fresh loads after one",
        "warm-up, in headless Debian Chromium on the same machine as the server: from the",
        "start of navigation to `/project/1/insights/new#q=…` (a daily `$pageview` trend",
        "over 30 days, a line chart) until the chart is painted, beside the query API's own",
        "time for the same query (median of as many calls). Data as in Query speed.",
        "",
        *table(("Machine", ""), machine()),
        "",
        *table(
            (
                "events",
                "drawn after navigation (ms)",
                "query API (ms)",
                "page's own (ms)",
                f"≤ {TARGET_MS:,.0f} ms at 10M",
            ),
            rows,
        ),
        "",
        f"JavaScript and CSS the page loaded: {size:.1f} KiB gzipped "
        f"(target < {TARGET_KB:.0f} KiB: {'met' if size < TARGET_KB else '**missed**'}).",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1000000,10000000")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    if chromium_path() is None:
        sys.exit("bench/ui.py needs chromium (scripts/ensure-browser)")
    if not (ROOT / "magpie" / "http" / "ui" / "dist" / "index.html").is_file():
        sys.exit("bench/ui.py needs the web UI built (make ui)")
    results = []
    for events in (int(s) for s in args.scales.split(",")):
        print(f"{events:,} events")
        results.append(measure(events, args.runs))
    section = report(results, args.runs)
    print(section)
    if not args.no_write:
        write_section(DOCS, section, name="ui")
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
