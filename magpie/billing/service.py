"""Billing in one place: usage reports, prices, quotes and quotas."""

from __future__ import annotations

import json
import tomllib
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from magpie.billing import EXCLUDED_EVENTS
from magpie.billing.meter import Period, Usage, projected, tally
from magpie.billing.pricing import DEFAULT_PRICING, Pricing, Quote, money, quote
from magpie.clock import Clock, utc_naive
from magpie.errors import InvalidInput
from magpie.store.base import BillingStore
from magpie.store.model import QuotaLimits


class BillingService:
    def __init__(self, store: BillingStore, clock: Clock, pricing_file: Path | None = None) -> None:
        self._store = store
        self._clock = clock
        self._file_pricing = self.read_pricing_file(pricing_file) if pricing_file else None
        self.quota_gate = QuotaGate(self)

    # -- prices ----------------------------------------------------------------

    @staticmethod
    def read_pricing_file(path: Path) -> Pricing:
        """A price list from JSON, or TOML (``[pricing]`` with ``[[pricing.tiers]]``)."""
        try:
            text = path.read_text()
            data = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
        except (OSError, ValueError) as exc:
            raise InvalidInput(f"cannot read the pricing file {path}: {exc}") from None
        return Pricing.from_json(data.get("pricing", data) if isinstance(data, dict) else data)

    def pricing(self) -> Pricing:
        stored = self._store.stored_pricing()
        if stored is not None:
            return Pricing.from_json(stored)
        return self._file_pricing or DEFAULT_PRICING

    def set_pricing(self, data: Any) -> Pricing:
        pricing = Pricing.from_json(data)
        self._store.store_pricing(pricing.to_json(), utc_naive(self._clock.now()))
        self.quota_gate.refresh_all()
        return pricing

    def quote(self, anonymous: int, identified: int) -> Quote:
        return quote(self.pricing(), anonymous, identified)

    # -- usage -------------------------------------------------------------------

    def usage(self, project_id: int, period: Period) -> Usage:
        rows = self._store.usage_rows(project_id, period.start, period.end)
        dropped = self._store.dropped_events(project_id, period.start, period.end)
        return tally(period, rows, dropped)

    def report(self, project_id: int, period: Period) -> dict[str, Any]:
        usage = self.usage(project_id, period)
        pricing = self.pricing()
        cost = quote(pricing, usage.anonymous, usage.identified)
        anonymous_end, identified_end = projected(usage, self._clock.now())
        projection = quote(pricing, anonymous_end, identified_end)
        limits = self.quota_limits(project_id)
        return {
            "period": str(period),
            "events": {
                "anonymous": usage.anonymous,
                "identified": usage.identified,
                "excluded": usage.excluded,
                "total": usage.billable,
            },
            "excluded_events": usage.excluded_by_event,
            "by_day": [
                {
                    "date": day.isoformat(),
                    "anonymous": counts.get("anonymous", 0),
                    "identified": counts.get("identified", 0),
                    "excluded": counts.get("excluded", 0),
                }
                for day, counts in usage.by_day.items()
            ],
            "by_lib": sorted(
                (
                    {
                        "lib": lib or None,
                        "lib_version": version or None,
                        "anonymous": counts.get("anonymous", 0),
                        "identified": counts.get("identified", 0),
                        "excluded": counts.get("excluded", 0),
                    }
                    for (lib, version), counts in usage.by_lib.items()
                ),
                key=lambda r: (
                    -(r["anonymous"] + r["identified"]),
                    str(r["lib"]),
                    str(r["lib_version"]),
                ),
            ),
            "free_allowance": pricing.free_allowance,
            "cost": cost.cost_json(),
            "projected": {
                "events": {
                    "anonymous": anonymous_end,
                    "identified": identified_end,
                    "total": anonymous_end + identified_end,
                },
                "cost": projection.cost_json(),
            },
            "quota": {
                "max_events": limits.max_events,
                "max_amount": limits.max_amount,
                "limited": self.over_quota(limits, usage, cost)
                if str(period) == str(Period.containing(self._clock.now()))
                else False,
                "dropped_events": usage.dropped,
            },
        }

    # -- quotas --------------------------------------------------------------------

    def quota_limits(self, project_id: int) -> QuotaLimits:
        return self._store.quota_limits().get(project_id, QuotaLimits())

    def set_quota_limits(self, project_id: int, limits: QuotaLimits) -> QuotaLimits:
        if (limits.max_events is not None and limits.max_events < 0) or (
            limits.max_amount is not None and limits.max_amount < 0
        ):
            raise InvalidInput("quota limits cannot be negative")
        self._store.set_quota_limits(project_id, limits)
        self.quota_gate.refresh([project_id])
        return limits

    @staticmethod
    def over_quota(limits: QuotaLimits, usage: Usage, cost: Quote) -> bool:
        if limits.max_events is not None and usage.billable >= limits.max_events:
            return True
        return limits.max_amount is not None and money(cost.total) >= limits.max_amount

    def is_over_quota(self, project_id: int) -> bool:
        limits = self.quota_limits(project_id)
        if not limits.active:
            return False
        usage = self.usage(project_id, Period.containing(self._clock.now()))
        return self.over_quota(
            limits, usage, quote(self.pricing(), usage.anonymous, usage.identified)
        )

    def now(self) -> datetime:
        return self._clock.now()

    def projects_with_quotas(self) -> set[int]:
        return {p for p, limits in self._store.quota_limits().items() if limits.active}


class QuotaGate:
    """Which projects are over their quota this month, for capture's hot path.

    Recomputed from the counters after each ingested batch (so a quota takes
    effect within one batch of being reached) and whenever limits or prices change.
    """

    def __init__(self, billing: BillingService) -> None:
        self._billing = billing
        self._limited: dict[int, str] = {}  # project → the month it is limited in
        self._observers: list[Callable[[set[int]], None]] = []

    def observe(self, observer: Callable[[set[int]], None]) -> None:
        """Be told the set of limited projects whenever it changes (a capture process)."""
        self._observers.append(observer)

    def is_limited(self, project_id: int) -> bool:
        month = self._limited.get(project_id)
        return month is not None and month == str(Period.containing(self._billing.now()))

    def refresh(self, project_ids: list[int] | set[int]) -> None:
        month = str(Period.containing(self._billing.now()))
        before = self.limited_now()
        for project_id in project_ids:
            if self._billing.is_over_quota(project_id):
                self._limited[project_id] = month
            else:
                self._limited.pop(project_id, None)
        after = self.limited_now()
        if after != before:
            for observer in self._observers:
                observer(after)

    def limited_now(self) -> set[int]:
        month = str(Period.containing(self._billing.now()))
        return {p for p, limited_in in self._limited.items() if limited_in == month}

    def refresh_all(self) -> None:
        self.refresh(self._billing.projects_with_quotas() | set(self._limited))


__all__ = ["BillingService", "EXCLUDED_EVENTS", "QuotaGate"]
