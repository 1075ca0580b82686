"""Turning measurements into the summary printed and kept in docs/benchmarks.md."""

from __future__ import annotations

import os
import platform
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow
from _ceiling import STAGES, CeilingResult
from _events import IDENTIFY_SHARE, SET_SHARE, IdentifiedWorkload
from _identified import StoredIdentities
from _load import LoadResult, percentile
from _server import settings_overrides

START_MARKER = "<!-- bench:ingest:start -->"
END_MARKER = "<!-- bench:ingest:end -->"
_DOC_INTRO = """# Benchmarks

Figures measured by the scripts in `bench/`. Each section is rewritten in place
by its script, so it always shows the latest run on the machine it names;
compare runs only on the same machine.
"""

MiB = 1024 * 1024
# CPU used by processes other than the server and the bench above which the
# machine was too busy for the figures to be trusted.
NOISY_CORES = 0.15


@dataclass(frozen=True)
class Targets:
    events_per_second: int = 20_000
    identified_events_per_second: int = 10_000
    p99_ms: float = 50.0
    rss_mib: int = 500


@dataclass
class Phase:
    """One load phase against its own freshly started server."""

    load: LoadResult
    server_cpu_seconds: float
    client_cpu_seconds: float
    machine_cpu_seconds: float  # every process on the machine
    wall_seconds: float
    peak_rss: int

    @property
    def server_cores(self) -> float:
        return self.server_cpu_seconds / self.wall_seconds

    @property
    def client_cores(self) -> float:
        return self.client_cpu_seconds / self.wall_seconds

    @property
    def other_cores(self) -> float:
        """Other processes competing for the cores: the figures are unreliable when high."""
        other = self.machine_cpu_seconds - self.server_cpu_seconds - self.client_cpu_seconds
        return max(0.0, other / self.wall_seconds)


@dataclass
class Identified:
    """Phase C (the identified workload, flat out) and its in-process stage timings."""

    workload: IdentifiedWorkload  # without its requests: what was sent
    phase: Phase
    stored: StoredIdentities
    stages: CeilingResult
    stages_other_cores: float  # CPU other processes used while the stages were timed

    @property
    def end_to_end_rate(self) -> float:
        load = self.phase.load
        return load.events / load.end_to_end_seconds

    @property
    def capture_rate(self) -> float:
        load = self.phase.load
        return load.events / load.capture_seconds

    @property
    def person_processed_share(self) -> float:
        """Stored events Magpie processed with a person: billed as identified."""
        return 1 - self.stored.share("propertyless")


@dataclass
class Results:
    quick: bool
    offered_events_per_second: int
    fixed: Phase
    saturation: Phase
    ceiling: CeilingResult
    ceiling_other_cores: float  # CPU other processes used while the ceiling ran
    identified: Identified
    targets: Targets

    @property
    def end_to_end_rate(self) -> float:
        load = self.saturation.load
        return load.events / load.end_to_end_seconds

    @property
    def capture_rate(self) -> float:
        load = self.saturation.load
        return load.events / load.capture_seconds

    @property
    def achieved_fixed_rate(self) -> float:
        load = self.fixed.load
        return load.events / load.capture_seconds

    @property
    def fixed_p99_ms(self) -> float:
        return percentile(self.fixed.load.latencies(), 99) * 1000

    @property
    def peak_rss(self) -> int:
        return max(self.fixed.peak_rss, self.saturation.peak_rss, self.identified.phase.peak_rss)

    # -- identified versus anonymous -------------------------------------------

    @property
    def end_to_end_ratio(self) -> float:
        """How many times longer C takes than B, end to end, per event."""
        return self.end_to_end_rate / self.identified.end_to_end_rate

    @property
    def anonymous_microseconds(self) -> float:
        return _microseconds_per_event(self.ceiling)

    @property
    def identified_microseconds(self) -> float:
        return _microseconds_per_event(self.identified.stages)

    @property
    def person_processed_microseconds(self) -> float:
        """An estimate: C's cost less its anonymous events' share at B's cost per event."""
        share = self.identified.person_processed_share
        anonymous = (1 - share) * self.anonymous_microseconds
        return (self.identified_microseconds - anonymous) / max(share, 1e-9)

    def target_rows(self) -> list[tuple[str, str, str, bool]]:
        t = self.targets
        rate_held = self.achieved_fixed_rate >= 0.98 * self.offered_events_per_second
        p99_met = self.fixed_p99_ms < t.p99_ms and not self.fixed.load.failures and rate_held
        identified_rate = self.identified.end_to_end_rate
        return [
            (
                "Sustained end-to-end ingestion (B)",
                f"{self.end_to_end_rate:,.0f} events/s",
                f"≥ {t.events_per_second:,} events/s",
                self.end_to_end_rate >= t.events_per_second,
            ),
            (
                "Identified workload end to end (C)",
                f"{identified_rate:,.0f} events/s",
                f"identified ≥ {t.identified_events_per_second:,} events/s",
                identified_rate >= t.identified_events_per_second,
            ),
            (
                f"Capture p99 at {self.offered_events_per_second:,} events/s offered (A)",
                f"{self.fixed_p99_ms:.1f} ms",
                f"< {t.p99_ms:.0f} ms, all 200, rate held",
                p99_met,
            ),
            (
                "Server peak RSS (max of A, B and C)",
                f"{self.peak_rss / MiB:,.0f} MiB",
                f"< {t.rss_mib} MiB",
                self.peak_rss < t.rss_mib * MiB,
            ),
        ]


# -- machine ------------------------------------------------------------------


def machine() -> list[tuple[str, str]]:
    return [
        ("CPU", _cpu_model()),
        ("Cores", str(os.cpu_count())),
        ("RAM", f"{_mem_total_bytes() / 1024**3:.1f} GiB"),
        ("OS", f"{platform.system()} {platform.release()}"),
        ("Python", platform.python_version()),
        ("DuckDB", duckdb.__version__),
        ("pyarrow", pyarrow.__version__),
        ("Magpie commit", _git_revision()),
        (
            "Magpie settings",
            ", ".join(f"{k}={v}" for k, v in settings_overrides().items()) or "defaults",
        ),
    ]


def _cpu_model() -> str:
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _mem_total_bytes() -> int:
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _read(path: str) -> str:
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def _git_revision() -> str:
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "magpie"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (magpie/ has uncommitted changes)" if dirty else head


# -- rendering ----------------------------------------------------------------


def render(results: Results) -> str:
    """The section as Markdown; also what the bench prints."""
    lines = [
        "## Ingestion (`bench/ingest.py`)",
        "",
        f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        + (" with `--quick` (smoke run: figures not representative)." if results.quick else "."),
        *_noise_warning(results),
        "",
        *table(("Machine", ""), machine()),
        "",
        "### Targets",
        "",
        *table(
            ("Measure", "Result", "Target", "Met"),
            [
                (name, value, target, "yes" if met else "**no**")
                for name, value, target, met in results.target_rows()
            ],
        ),
        "",
        "### Figures",
        "",
        *table(("Figure", "Value"), _figures(results) + _identified_figures(results)),
        "",
        "### Identified versus anonymous events",
        "",
        *table(
            ("Measure", "Anonymous (B)", "Identified workload (C)", "C costs"), _ratios(results)
        ),
        "",
        *_cost_explanation(results),
        "",
        "### Where the time goes per event (Magpie's capture and worker code in one thread, "
        "no HTTP)",
        "",
        *table(
            ("Stage", "B µs/event", "B share", "C µs/event", "C share", "C − B"),
            _stages(results.ceiling, results.identified.stages),
        ),
        "",
        *_method(results),
    ]
    return "\n".join(lines)


def _noise_warning(results: Results) -> list[str]:
    busiest = max(
        results.fixed.other_cores,
        results.saturation.other_cores,
        results.ceiling_other_cores,
        results.identified.phase.other_cores,
        results.identified.stages_other_cores,
    )
    if busiest <= NOISY_CORES:
        return []
    return [
        "",
        f"**Warning:** other processes used up to {busiest:.2f} cores during the run;"
        " these figures understate what Magpie does on a quiet machine.",
    ]


def _figures(results: Results) -> list[tuple[str, str]]:
    fixed, saturation, ceiling = results.fixed, results.saturation, results.ceiling
    a, b = fixed.load, saturation.load
    a_lat, a_due, b_lat = a.latencies(), a.latencies(from_due=True), b.latencies()
    b_final = b.final
    assert b_final is not None
    worker_batch = b_final.events_stored / max(1, b_final.batches)
    return [
        ("**A: fixed rate**", ""),
        (
            "Offered",
            f"{results.offered_events_per_second:,} events/s "
            f"({len(a.samples):,} requests of 100 events, {a.connections} connections)",
        ),
        ("Achieved", f"{results.achieved_fixed_rate:,.0f} events/s over {a.capture_seconds:.1f} s"),
        ("Non-200 or unexpected answers", f"{a.failures:,} of {len(a.samples):,}"),
        (
            "Capture latency p50 / p99 / max",
            " / ".join([_ms(a_lat, 50), _ms(a_lat, 99), f"{a_lat[-1] * 1000:.1f} ms"]),
        ),
        ("p99 counted from the scheduled send", _ms(a_due, 99)),
        ("Largest ingest backlog (acked, not stored)", f"{a.max_lag_events:,} events"),
        ("Worker drain after the last ack", f"{a.drain_seconds:.2f} s"),
        ("Server / load generator / other processes CPU", _cores(fixed)),
        ("Server peak RSS", f"{fixed.peak_rss / MiB:,.0f} MiB"),
        ("**B: saturation**", ""),
        (
            "Sent",
            f"{b.events:,} events ({len(b.samples):,} requests, "
            f"{b.connections} connections, {b.failures:,} failed)",
        ),
        (
            "Capture only (acks/s)",
            f"{results.capture_rate:,.0f} events/s (last ack after {b.capture_seconds:.1f} s)",
        ),
        (
            "End to end (all queryable)",
            f"{results.end_to_end_rate:,.0f} events/s "
            f"(all stored after {b.end_to_end_seconds:.1f} s)",
        ),
        ("Capture latency p50 / p99", f"{_ms(b_lat, 50)} / {_ms(b_lat, 99)}"),
        ("Worker transactions", f"{b_final.batches:,} (average {worker_batch:,.0f} events)"),
        ("Server / load generator / other processes CPU", _cores(saturation)),
        ("Server peak RSS", f"{saturation.peak_rss / MiB:,.0f} MiB"),
        ("**Ceiling: DuckDB insert alone**", ""),
        (
            "insert_events alone, fresh file",
            f"{ceiling.insert_rows_per_second:,.0f} rows/s "
            f"({ceiling.rows:,} rows, {ceiling.batches} transactions of "
            f"~{ceiling.batch_events:,})",
        ),
        (
            "Magpie end to end / ceiling",
            f"{results.end_to_end_rate / ceiling.insert_rows_per_second:.0%}",
        ),
        (
            "Capture + worker code in one thread, no HTTP",
            f"{ceiling.pipeline_rows_per_second:,.0f} events/s",
        ),
        ("Other processes CPU meanwhile", f"{results.ceiling_other_cores:.2f} cores"),
    ]


def _cores(phase: Phase) -> str:
    return f"{phase.server_cores:.2f} / {phase.client_cores:.2f} / {phase.other_cores:.2f} cores"


def _ms(sorted_seconds: list[float], q: float) -> str:
    return f"{percentile(sorted_seconds, q) * 1000:.1f} ms"


def _microseconds_per_event(run: CeilingResult) -> float:
    return sum(run.seconds.values()) / run.rows * 1e6


def _stages(anonymous: CeilingResult, identified: CeilingResult) -> list[tuple[str, ...]]:
    b_total, c_total = sum(anonymous.seconds.values()), sum(identified.seconds.values())
    rows: list[tuple[str, ...]] = []
    for name, description in STAGES.items():
        b, c = anonymous.microseconds_per_event(name), identified.microseconds_per_event(name)
        rows.append(
            (
                description,
                f"{b:.1f}",
                f"{anonymous.seconds[name] / b_total:.0%}",
                f"{c:.1f}",
                f"{identified.seconds[name] / c_total:.0%}",
                f"{c - b:+.1f}",
            )
        )
    b, c = _microseconds_per_event(anonymous), _microseconds_per_event(identified)
    rows.append(("total", f"{b:.1f}", "100%", f"{c:.1f}", "100%", f"{c - b:+.1f}"))
    return rows


# -- phase C and the cost of identified events ----------------------------------


def _identified_figures(results: Results) -> list[tuple[str, str]]:
    c = results.identified
    load, workload, stored = c.phase.load, c.workload, c.stored
    final = load.final
    assert final is not None
    latencies = load.latencies()
    processed = workload.count("person-processed")
    logins = workload.count("second-device logins") + workload.count("second-device merges")
    return [
        ("**C: saturation, identified workload**", ""),
        (
            "Users",
            f"{workload.users:,} web users, {workload.identifying_users:,} of them sign up "
            f"({workload.identifying_users / workload.users:.0%}); "
            f"{workload.companies:,} companies",
        ),
        (
            "Sent",
            f"{load.events:,} events ({len(load.samples):,} requests, "
            f"{load.connections} connections, {load.failures:,} failed): "
            f"{processed:,} person-processed ({processed / workload.events:.0%}), "
            f"{workload.count('personless'):,} anonymous",
        ),
        (
            "Identity events sent",
            f"{workload.count('$identify'):,} `$identify` "
            f"({workload.count('sign-up visits'):,} sign-ups, {logins:,} second-device logins, "
            f"{workload.count('second-device merges'):,} of them after an anonymous person "
            f"profile), {workload.count('$create_alias'):,} `$create_alias`, "
            f"{workload.count('$groupidentify'):,} `$groupidentify`, "
            f"{workload.count('$set'):,} `$set` events; a `$set` on "
            f"{workload.count('with $set') / max(1, processed):.0%} and `$groups` on "
            f"{workload.count('with $groups') / max(1, processed):.0%} of person-processed "
            "events",
        ),
        (
            "Capture only (acks/s)",
            f"{c.capture_rate:,.0f} events/s (last ack after {load.capture_seconds:.1f} s)",
        ),
        (
            "End to end (all queryable)",
            f"{c.end_to_end_rate:,.0f} events/s (all stored after {load.end_to_end_seconds:.1f} s)",
        ),
        (
            "of which person-processed",
            f"{c.end_to_end_rate * c.person_processed_share:,.0f} events/s",
        ),
        ("Capture latency p50 / p99", f"{_ms(latencies, 50)} / {_ms(latencies, 99)}"),
        (
            "Worker transactions",
            f"{final.batches:,} "
            f"(average {final.events_stored / max(1, final.batches):,.0f} events)",
        ),
        ("Server / load generator / other processes CPU", _cores(c.phase)),
        ("Server peak RSS", f"{c.phase.peak_rss / MiB:,.0f} MiB"),
        (
            "Stored events by person_mode",
            " / ".join(
                f"{mode} {count:,} ({stored.share(mode):.0%})"
                for mode, count in stored.events_by_mode.items()
            ),
        ),
        (
            "Persons",
            f"{stored.persons:,}: {stored.identified_persons:,} identified, "
            f"{stored.group_identify_persons:,} of `$company_…` distinct ids (posthog-python's "
            f"group_identify sends from them); {stored.distinct_ids:,} distinct ids, "
            f"{stored.groups:,} groups",
        ),
        (
            "Identity history",
            " / ".join(f"{kind} {count:,}" for kind, count in stored.merges_by_kind.items())
            + f" (`person_merges`); {stored.overrides:,} overrides",
        ),
        (
            "Ingestion warnings",
            ", ".join(f"`{kind}` {count:,}" for kind, count in stored.warnings_by_type.items())
            or "none",
        ),
    ]


def _ratios(results: Results) -> list[tuple[str, str, str, str]]:
    c = results.identified
    share = c.person_processed_share
    b_us, c_us = results.anonymous_microseconds, results.identified_microseconds
    person_us = results.person_processed_microseconds
    return [
        (
            "End to end, events/s",
            f"{results.end_to_end_rate:,.0f}",
            f"{c.end_to_end_rate:,.0f}",
            f"{results.end_to_end_ratio:.2f}× (B's rate ÷ C's)",
        ),
        (
            "In-process, µs per event",
            f"{b_us:.1f}",
            f"{c_us:.1f}",
            f"{c_us / b_us:.2f}×",
        ),
        (
            f"In-process, µs per person-processed event ({share:.0%} of C; estimate)",
            f"{b_us:.1f}",
            f"{person_us:.1f}",
            f"{person_us / b_us:.2f}×",
        ),
    ]


def _cost_explanation(results: Results) -> list[str]:
    anonymous, identified = results.ceiling, results.identified.stages
    deltas = sorted(
        (
            (identified.microseconds_per_event(name) - anonymous.microseconds_per_event(name), name)
            for name in STAGES
        ),
        reverse=True,
    )
    growth = ", ".join(f"{name} {delta:+.1f} µs" for delta, name in deltas if delta >= 0.5)
    return [
        "An event of the identified workload costs "
        f"{results.identified_microseconds / results.anonymous_microseconds:.2f}× an anonymous "
        f"one in-process and {results.end_to_end_ratio:.2f}× end to end. Per event, the "
        f'extra goes to {growth or "no stage by more than 0.5 µs"} ("other" holds the '
        "commit, which writes the larger rows). A "
        "person-processed event is looked up with its person (each batch loads every person "
        "owning one of its distinct ids, with all their ids and properties), gets its "
        "browser, URL and campaign properties copied into `$set` and into `$initial_*` "
        "`$set_once` during normalize, applies them to the person (a new version whenever a "
        "value differs, which `$current_url` and `$pathname` do on nearly every page), and "
        "carries a copy of the person's properties as `person_properties` JSON in its row, "
        "so rows are larger to build, convert and insert; `$identify` and `$create_alias` "
        "also join ids (merge records, overrides, deleted persons), and changed persons are "
        "written back once per batch. The per-person-processed estimate assumes C's "
        "anonymous events cost what B's do." + _person_stage_note(anonymous, identified),
    ]


def _person_stage_note(anonymous: CeilingResult, identified: CeilingResult) -> str:
    stage = "persons"
    delta = identified.microseconds_per_event(stage) - anonymous.microseconds_per_event(stage)
    if delta >= 1.0:
        return ""
    return (
        " The person stage itself costs about as much per event in B: anonymous events pay "
        "there too, for looking up and recording every new anonymous distinct id in "
        "`personless_distinct_ids`, and nearly every backend event of B has its own."
    )


def _method(results: Results) -> list[str]:
    return [
        "How it is measured: each phase starts its own `magpie serve` (fresh data folder, "
        "`MAGPIE_LOG_LEVEL=warning`) and drives it from the bench process over raw asyncio "
        "HTTP/1.1 keep-alive connections with pre-built bodies of 100 events: half "
        "posthog-js style (gzip to `/e/` as `text/plain`, one visit per request), a quarter "
        "posthog-python plain JSON to `/batch/`, a quarter posthog-python gzip with "
        "`Content-Encoding: gzip`. A and B send anonymous events only "
        "(`$process_person_profile: false`). Latency runs from writing a request to reading "
        "its whole answer. End to end runs from the first send of B (or C) until "
        "`/api/ingestion/status/` reports every event stored (polled every 20 ms). The "
        "ceiling hands every chunk of rows Magpie's worker builds from B's requests (run "
        "in-process, in batches the size of B's average worker transaction) to `insert_events` "
        "on a second, fresh DuckDB file, one transaction per worker transaction, and times "
        "only those calls and commits. The per-stage table times "
        "the same in-process run, stage by stage, on one thread; the server overlaps only "
        "what releases the GIL (DuckDB, zlib, fsync). The load generator shares the "
        "machine's cores with the server. Server CPU and peak RSS count the `magpie serve` "
        "process and its child (the capture process): peak RSS is the sum of each "
        "process's own peak.",
        "",
        "Phase C is B with the identified workload: the same request mix, connections and "
        f"number of events, over a pool of web users of whom {IDENTIFY_SHARE:.0%} sign up. "
        "A visitor who never signs up makes one anonymous visit, like B's; one who signs up "
        "makes three, browsing anonymously (under its posthog-js device id) until the visit "
        "in which it calls `identify` (`$identify` with `$anon_distinct_id`, `$set` and "
        "`$set_once`, then `group` for its company), and sends person-processed events "
        "(`$process_person_profile: true`, and `$groups` if it has a company) under its user "
        "id from then on; some "
        "log in again on a second device, half of those after a `$set` there while "
        "anonymous (two persons to merge). The backend sends half its events for signed-up "
        "users (person-processed, with their company), the rest anonymous like B's, plus "
        "posthog-python `group_identify` and `alias` calls. A `$set` rides on about "
        f"{SET_SHARE:.0%} of person-processed events. Each user's events are in causal order "
        "in the stream: within its visit's request, or at least 64 requests after what they "
        "depend on. Every event has its own uuid. Person and event counts come from HogQL "
        "over the query API once every event is stored (untimed); merges, overrides and "
        "warnings from the DuckDB file after the server stopped. The in-process run of C "
        "(stage timings, no ceiling) is B's method on C's requests, in batches the size of "
        "C's average worker batch.",
    ]


def table(header: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def write_section(
    doc: Path, section: str, start_marker: str = START_MARKER, end_marker: str = END_MARKER
) -> None:
    """Replace a bench's section between its markers, or append it (creating the file)."""
    block = f"{start_marker}\n{section}\n{end_marker}"
    text = doc.read_text() if doc.exists() else _DOC_INTRO
    start, end = text.find(start_marker), text.find(end_marker)
    if start != -1 and end > start:
        text = text[:start] + block + text[end + len(end_marker) :]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.parent.mkdir(parents=True, exist_ok=True)
    doc.write_text(text)
