"""Magpie's settings: one frozen object, read once at start-up.

Values come from, in increasing priority: defaults, a TOML file named by
``MAGPIE_CONFIG``, ``MAGPIE_*`` environment variables, and explicit overrides
(the CLI's flags). A bad value fails fast with a message naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


class SettingsError(ValueError):
    """A setting has a value Magpie cannot use; the message names the variable."""


def _parse_networks(raw: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    items = [item.strip() for item in raw.split(",") if item.strip()]
    return tuple(ipaddress.ip_network(item, strict=False) for item in items)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("data")
    host: str = "127.0.0.1"
    port: int = 8000
    # Peers whose X-Forwarded-For header is believed when setting `$ip`.
    trusted_proxies: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()
    log_level: str = "info"
    # Request caps, measured after decompression (PostHog's router limits).
    batch_body_limit: int = 20 * MiB
    event_body_limit: int = 2 * MiB
    # Queue segment files roll over at this size; consumed segments are deleted.
    queue_segment_bytes: int = 64 * MiB
    # The ingest worker reads the queue in chunks of at most this many records
    # (a record is one capture request) and bytes: its memory is about a chunk's.
    worker_batch_records: int = 50
    worker_batch_bytes: int = 8 * MiB
    # It commits once a transaction holds this many events, or sooner when it
    # has caught up with the queue.
    worker_transaction_events: int = 65_536
    # Capture (decoding and the queue) in a process of its own, beside the ingest
    # worker; None: yes when the machine has two cores or more.
    capture_process: bool | None = None
    # With a capture process, it also serves the public address itself and
    # passes every other request to the server over a private socket, so
    # capture answers fast however busy the server's interpreter is.
    capture_front: bool = True
    # How often Python's interpreter lock changes hands between threads (seconds).
    switch_interval_seconds: float = 0.0005
    # A JSON or TOML price list used until one is set through the API.
    pricing_file: Path | None = None
    # Longest a query may run before it is interrupted.
    query_timeout_seconds: float = 30.0
    duckdb_memory_limit: str = "1GB"
    duckdb_threads: int = 2
    # Query limits (docs/querying.md). Queries the engine runs at once; the rest
    # wait for a slot within their own deadline.
    query_concurrency: int = 2
    # How far past duckdb_memory_limit the server may grow while queries run
    # before the running queries are stopped (query_memory_exceeded).
    query_memory_margin: str = "768MB"
    # Disk that queries larger than memory may spill to, in <data_dir>/spill.
    duckdb_spill_limit: str = "10GB"
    # -- Capture rate limit per project token (off by default) ----------------
    # A token bucket per project: it refills at this many events per second,
    # and a request it cannot take is answered 429 with Retry-After (never
    # accepted and dropped). None: no limit. Checked in magpie/capture/ratelimit.py.
    capture_rate_limit_events_per_second: float | None = None
    # The bucket's size: how many events a project may send at once above that
    # rate. None: ten seconds' worth of the rate.
    capture_rate_limit_burst_events: int | None = None
    # Computed cohorts are recomputed this often (seconds); 0: only on demand.
    cohort_refresh_seconds: float = 900.0
    # -- Backends (docs/deploying.md; checked in magpie/backends.py) -----------
    # Unset: the embedded default in the data folder (DuckDB, the local log).
    # ClickHouse for events: clickhouse://user:password@host:8123/database,
    # clickhouses:// (TLS), or chdb:///path?database=name (in this process).
    events_url: str | None = None
    # PostgreSQL for persons and metadata: postgresql://user@host:5432/database.
    database_url: str | None = None
    # NATS JetStream between capture and the workers: nats://host:4222/STREAM.
    queue_url: str | None = None
    # A worker's lease on a partition lasts this long unless renewed: when a
    # worker dies, the others take its partitions over after this.
    queue_lease_seconds: float = 10.0
    # Connections a process keeps to PostgreSQL at most. None: what its roles
    # need (magpie/backends.py, pool_size): an ingest unit holds a connection for
    # its whole transaction, and a worker may run one per partition at once.
    database_pool_size: int | None = None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "magpie.duckdb"

    @property
    def queue_dir(self) -> Path:
        return self.data_dir / "queue"

    @property
    def processed_dir(self) -> Path:
        """Cluster mode with the local queue: processed events on their way to ClickHouse."""
        return self.data_dir / "processed"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def separate_capture(self) -> bool:
        if self.capture_process is not None:
            return self.capture_process
        return (os.cpu_count() or 1) >= 2

    @property
    def query_memory_budget(self) -> int:
        """Resident bytes past which running queries are stopped."""
        return parse_size(self.duckdb_memory_limit) + parse_size(self.query_memory_margin)

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def local_url(self) -> str:
        """Where a process on this machine reaches the server (also when it listens
        on every interface)."""
        host = {"0.0.0.0": "127.0.0.1", "::": "[::1]", "": "127.0.0.1"}.get(self.host, self.host)
        return f"http://{host}:{self.port}"

    @classmethod
    def load(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        config_file = env.get("MAGPIE_CONFIG")
        if config_file:
            values.update(_read_toml(Path(config_file)))
        for spec in fields(cls):
            var = f"MAGPIE_{spec.name.upper()}"
            if var in env:
                values[spec.name] = _convert(var, spec.name, env[var])
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise SettingsError(f"unknown settings: {', '.join(sorted(unknown))}")
        settings = cls(**values)
        return settings._validated()

    def with_overrides(self, **overrides: Any) -> Settings:
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})

    def _validated(self) -> Settings:
        if not 0 < self.port < 65536:
            raise SettingsError(f"MAGPIE_PORT must be between 1 and 65535, got {self.port}")
        if self.worker_batch_records < 1:
            raise SettingsError("MAGPIE_WORKER_BATCH_RECORDS must be at least 1")
        if self.worker_transaction_events < 1:
            raise SettingsError("MAGPIE_WORKER_TRANSACTION_EVENTS must be at least 1")
        if self.query_concurrency < 1:
            raise SettingsError("MAGPIE_QUERY_CONCURRENCY must be at least 1")
        if self.database_pool_size is not None and self.database_pool_size < 1:
            raise SettingsError("MAGPIE_DATABASE_POOL_SIZE must be at least 1")
        if self.cohort_refresh_seconds < 0:
            raise SettingsError("MAGPIE_COHORT_REFRESH_SECONDS must be 0 (off) or more")
        for name in ("duckdb_memory_limit", "query_memory_margin", "duckdb_spill_limit"):
            try:
                parse_size(getattr(self, name))
            except ValueError as exc:
                raise SettingsError(f"MAGPIE_{name.upper()}: {exc}") from None
        return replace(self, data_dir=Path(self.data_dir))


def _network_list(raw: object) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return _parse_networks(",".join(raw) if isinstance(raw, list) else str(raw))


# A field's type → how a value from the environment (text) or TOML becomes it.
_BY_TYPE: dict[str, Callable[[Any], Any]] = {
    "Path": Path,
    "int": int,
    "float": float,
    "str": str,
    "bool": lambda raw: raw if isinstance(raw, bool) else _boolean(str(raw)),
    "tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]": _network_list,
}


def _converter(name: str) -> Callable[[Any], Any]:
    """From the field's annotation: ``X | None`` converts like ``X``."""
    annotation = str(next(f.type for f in fields(Settings) if f.name == name))
    base = annotation.removesuffix(" | None")
    convert = _BY_TYPE.get(base)
    if convert is None:
        raise AssertionError(f"no converter for setting {name}: {annotation}")
    return convert


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]i?b|b)?\s*$", re.IGNORECASE)
_UNITS = {"b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS.update({"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40})


def parse_size(text: str) -> int:
    """Bytes in a size as DuckDB writes it: ``1GB`` (10⁹), ``512MiB`` (2²⁹), ``100``."""
    match = _SIZE.match(str(text))
    if not match:
        raise ValueError(f"{text!r} is not a size such as 512MB or 2GiB")
    return int(float(match.group(1)) * _UNITS[(match.group(2) or "b").lower()])


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("use true or false")


def _convert(var: str, name: str, raw: Any) -> Any:
    try:
        return _converter(name)(raw)
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{var}={raw!r} is not valid: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"MAGPIE_CONFIG={path}: {exc}") from None
    values = dict(data.get("magpie", data))
    known = {f.name for f in fields(Settings)}
    return {
        name: _convert(f"{path}: {name}", name, value) if name in known else value
        for name, value in values.items()
    }
