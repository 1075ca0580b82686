"""Magpie's settings: one frozen object, read once at start-up.

Values come from, in increasing priority: defaults, a TOML file named by
``MAGPIE_CONFIG``, ``MAGPIE_*`` environment variables, and explicit overrides
(the CLI's flags). A bad value fails fast with a message naming the variable.
"""

from __future__ import annotations

import ipaddress
import os
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
    # How often Python's interpreter lock changes hands between threads (seconds).
    switch_interval_seconds: float = 0.0005
    # A JSON or TOML price list used until one is set through the API.
    pricing_file: Path | None = None
    # Longest a query may run before it is interrupted.
    query_timeout_seconds: float = 30.0
    duckdb_memory_limit: str = "1GB"
    duckdb_threads: int = 2
    # -- Capture rate limit per project token (off by default) ----------------
    # A token bucket per project: it refills at this many events per second,
    # and a request it cannot take is answered 429 with Retry-After (never
    # accepted and dropped). None: no limit. Checked in magpie/capture/ratelimit.py.
    capture_rate_limit_events_per_second: float | None = None
    # The bucket's size: how many events a project may send at once above that
    # rate. None: ten seconds' worth of the rate.
    capture_rate_limit_burst_events: int | None = None

    @property
    def database_path(self) -> Path:
        return self.data_dir / "magpie.duckdb"

    @property
    def queue_dir(self) -> Path:
        return self.data_dir / "queue"

    @property
    def credentials_path(self) -> Path:
        return self.data_dir / "credentials.json"

    @property
    def separate_capture(self) -> bool:
        if self.capture_process is not None:
            return self.capture_process
        return (os.cpu_count() or 1) >= 2

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

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
        return replace(self, data_dir=Path(self.data_dir))


_CONVERTERS: dict[str, Callable[[str], Any]] = {
    "data_dir": Path,
    "pricing_file": Path,
    "port": int,
    "trusted_proxies": _parse_networks,
    "batch_body_limit": int,
    "event_body_limit": int,
    "queue_segment_bytes": int,
    "worker_batch_records": int,
    "worker_batch_bytes": int,
    "worker_transaction_events": int,
    "duckdb_threads": int,
    "query_timeout_seconds": float,
    "capture_process": lambda raw: _boolean(raw),
    "switch_interval_seconds": float,
    "capture_rate_limit_events_per_second": float,
    "capture_rate_limit_burst_events": int,
}


def _boolean(raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise ValueError("use true or false")


def _convert(var: str, name: str, raw: str) -> Any:
    convert = _CONVERTERS.get(name, str)
    try:
        return convert(raw)
    except ValueError as exc:
        raise SettingsError(f"{var}={raw!r} is not valid: {exc}") from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"MAGPIE_CONFIG={path}: {exc}") from None
    values = dict(data.get("magpie", data))
    if "trusted_proxies" in values:
        raw = values["trusted_proxies"]
        values["trusted_proxies"] = _parse_networks(",".join(raw) if isinstance(raw, list) else raw)
    if "data_dir" in values:
        values["data_dir"] = Path(values["data_dir"])
    return values
