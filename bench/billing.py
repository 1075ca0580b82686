"""Billing benchmark: a month's usage report at 10M events.

Magpie keeps usage counters in the same transaction as the events (see
docs/billing.md). This generates a month of events with bench/query.py's
generator, fills the counters with the statement the ingest path uses (run
over the whole month at once), and times, in the same run:

- Magpie's usage report (``BillingService.report``: counters, costs,
  projection, quota), as the API and CLI produce it;
- the alternative design: one aggregate query over the events table that
  computes the same classes by day and SDK.

    python bench/billing.py [--events 10000000] [--runs 5] [--no-write]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _report import write_section  # noqa: E402
from query import DOCS, generate, machine, timed  # noqa: E402

from magpie.app import Magpie  # noqa: E402
from magpie.billing import EXCLUDED_EVENTS  # noqa: E402
from magpie.billing.meter import Period  # noqa: E402
from magpie.clock import FrozenClock  # noqa: E402
from magpie.settings import Settings  # noqa: E402

TARGET_MS = 500

_CLASS = """CASE WHEN list_contains($excluded, event) THEN 'excluded'
                 WHEN person_mode = 'propertyless' THEN 'anonymous' ELSE 'identified' END"""
# The counters as the ingest path writes them, for a whole month at once.
_FILL_COUNTERS = f"""
INSERT INTO usage_counters
SELECT project_id, CAST(created_at AS DATE), coalesce(mat_lib, ''), coalesce(mat_lib_version, ''),
       {_CLASS}, CASE WHEN list_contains($excluded, event) THEN event ELSE '' END, count(*)
FROM events GROUP BY ALL
"""
# The alternative: classes by day and SDK straight from the events.
_AGGREGATE = f"""
SELECT CAST(created_at AS DATE), mat_lib, mat_lib_version, {_CLASS}, count(*)
FROM events
WHERE project_id = $project AND created_at >= $start AND created_at < $end
GROUP BY ALL
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="magpie-bench-billing-"))
    try:
        clock = FrozenClock(datetime(2026, 10, 20, 12, tzinfo=UTC))
        magpie = Magpie(Settings.load(env={}, data_dir=folder), clock=clock)
        project = magpie.projects.create("bench")
        cursor = magpie.db.cursor()
        started = time.perf_counter()
        generate(cursor, project.id, args.events)
        cursor.execute(_FILL_COUNTERS, {"excluded": list(EXCLUDED_EVENTS)})
        print(f"generated {args.events:,} events in {time.perf_counter() - started:.1f} s")
        period = Period(2026, 10)
        report = magpie.billing.report(project.id, period)
        assert report["events"]["total"] + report["events"]["excluded"] == args.events
        aggregate_cursor = magpie.db.new_cursor()
        params = {
            "project": project.id,
            "start": datetime(2026, 10, 1),
            "end": datetime(2026, 11, 1),
            "excluded": list(EXCLUDED_EVENTS),
        }
        ours = timed(lambda: magpie.billing.report(project.id, period), args.runs)
        alternative = timed(
            lambda: aggregate_cursor.execute(_AGGREGATE, params).fetchall(), args.runs
        )
        print(f"usage report (counters)       {ours:8.2f} ms   target ≤ {TARGET_MS} ms")
        print(f"one aggregate over the events {alternative:8.2f} ms")
        magpie.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    section = "\n".join(
        [
            "## Billing meter",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d} by `bench/billing.py` on {machine()}.",
            f"A month of {args.events:,} events (bench/query.py's data); "
            f"median of {args.runs} runs.",
            "",
            "| what | ms | target |",
            "|---|---:|---|",
            f"| usage report from the counters (classes, by day, by SDK, cost, projection, quota) "
            f"| {ours:.2f} | ≤ {TARGET_MS} ms: {'met' if ours <= TARGET_MS else 'missed'} |",
            f"| the same classes by day and SDK as one aggregate over the events | "
            f"{alternative:.2f} | (alternative design) |",
            "",
        ]
    )
    if not args.no_write:
        write_section(DOCS, section, name="billing")
        print(f"wrote {DOCS}")


if __name__ == "__main__":
    main()
