"""BillingStore, with usage written through the ingest unit: the same on every backend."""

from __future__ import annotations

from datetime import date, datetime

from magpie.store.model import QuotaLimits, UsageCount, UsageRow
from tests.store.conftest import Backend

D1, D2, D3 = date(2026, 3, 1), date(2026, 3, 2), date(2026, 3, 3)


def usage(project: int, day: date, events: int, **kind: str) -> UsageCount:
    return UsageCount(
        project,
        day,
        kind.get("lib", "web"),
        kind.get("lib_version", "1.0"),
        kind.get("event_class", "anonymous"),
        kind.get("excluded_event", ""),
        events,
    )


def test_usage_adds_up_across_units_and_stays_in_its_project(backend: Backend) -> None:
    ingest, billing = backend.stores.ingest, backend.stores.billing
    ingest.transact(
        lambda unit: unit.add_usage(
            [usage(1, D1, 3), usage(1, D1, 2, event_class="identified"), usage(2, D1, 50)]
        )
    )
    ingest.transact(lambda unit: unit.add_usage([usage(1, D1, 4), usage(1, D2, 1, lib="ios")]))
    ingest.transact(lambda unit: unit.add_usage([]))
    rows = billing.usage_rows(1, D1, D3)
    assert [r.day for r in rows] == sorted(r.day for r in rows)
    assert sorted(rows, key=repr) == sorted(
        [
            UsageRow(D1, "web", "1.0", "anonymous", "", 7),
            UsageRow(D1, "web", "1.0", "identified", "", 2),
            UsageRow(D2, "ios", "1.0", "anonymous", "", 1),
        ],
        key=repr,
    )
    assert billing.usage_rows(2, D1, D2) == [UsageRow(D1, "web", "1.0", "anonymous", "", 50)]
    assert billing.usage_rows(1, D2, D3) == [UsageRow(D2, "ios", "1.0", "anonymous", "", 1)]
    assert billing.usage_rows(1, D3, date(2026, 4, 1)) == []


def test_excluded_events_keep_their_name(backend: Backend) -> None:
    backend.stores.ingest.transact(
        lambda unit: unit.add_usage(
            [usage(1, D1, 2, event_class="excluded", excluded_event="$feature_flag_called")]
        )
    )
    [row] = backend.stores.billing.usage_rows(1, D1, D2)
    assert (row.event_class, row.excluded_event, row.events) == (
        "excluded",
        "$feature_flag_called",
        2,
    )


def test_dropped_events_are_summed_over_the_range(backend: Backend) -> None:
    ingest, billing = backend.stores.ingest, backend.stores.billing
    ingest.transact(lambda unit: unit.add_dropped(1, D1, 10))
    ingest.transact(lambda unit: unit.add_dropped(1, D1, 5))
    ingest.transact(lambda unit: unit.add_dropped(1, D2, 1))
    ingest.transact(lambda unit: unit.add_dropped(2, D1, 100))
    assert billing.dropped_events(1, D1, D3) == 16
    assert billing.dropped_events(1, D1, D2) == 15
    assert billing.dropped_events(1, D3, date(2026, 4, 1)) == 0
    assert billing.dropped_events(2, D1, D3) == 100


def test_quotas_are_set_replaced_and_cleared(backend: Backend) -> None:
    billing = backend.stores.billing
    assert billing.quota_limits() == {}
    billing.set_quota_limits(1, QuotaLimits(max_events=1000))
    billing.set_quota_limits(2, QuotaLimits(max_amount=12.5))
    assert billing.quota_limits() == {1: QuotaLimits(1000, None), 2: QuotaLimits(None, 12.5)}
    billing.set_quota_limits(1, QuotaLimits(max_events=10**15, max_amount=0.25))
    billing.set_quota_limits(2, QuotaLimits())
    assert billing.quota_limits() == {1: QuotaLimits(10**15, 0.25), 2: QuotaLimits(None, None)}


def test_the_price_list_is_stored_once_and_replaced(backend: Backend) -> None:
    billing = backend.stores.billing
    assert billing.stored_pricing() is None
    first = {"currency": "USD", "tiers": [{"up_to": 1000000, "unit_price": 0.0}]}
    billing.store_pricing(first, datetime(2026, 3, 1))
    assert billing.stored_pricing() == first
    second = {"currency": "EUR", "tiers": [{"up_to": None, "unit_price": 0.00005}]}
    billing.store_pricing(second, datetime(2026, 3, 2))
    assert billing.stored_pricing() == second
