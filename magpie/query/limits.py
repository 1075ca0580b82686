"""How much one query may ask for. Each limit is refused with its own error code
(magpie/query/errors.py), named in docs/querying.md."""

from __future__ import annotations

MiB = 1024 * 1024

# TrendsQuery: breakdown values kept per series (the rest fold into "other").
MAX_BREAKDOWN_LIMIT = 1_000
# Time buckets per series: hourly for over five years, daily for over a century.
MAX_BUCKETS = 50_000
# Values in one insight's answer (series × breakdown values × buckets).
MAX_POINTS = 1_000_000
# Bytes of result rows a query may bring back from the engine.
MAX_RESULT_BYTES = 64 * MiB
# Longest string repeat() or lpad()/rpad() may build.
MAX_STRING_BYTES = 1 * MiB
