"""The billing meter and prices, following the seed document case by case."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from magpie.billing.meter import Period
from magpie.billing.pricing import DEFAULT_PRICING, quote
from tests.conftest import ROOT, LiveServer
from tests.harness import Ingest

pytestmark = pytest.mark.both_modes


def usage(ingest: Ingest) -> dict:
    return ingest.magpie.billing.report(
        ingest.project_id, Period.containing(ingest.magpie.clock.now())
    )


def classes(ingest: Ingest) -> tuple[int, int]:
    events = usage(ingest)["events"]
    return events["anonymous"], events["identified"]


def test_past_anonymous_events_stay_anonymous_after_identify(ingest: Ingest) -> None:
    ingest.send(*[ingest.event("$pageview", "anon", anonymous=True) for _ in range(3)])
    assert classes(ingest) == (3, 0)
    ingest.send(ingest.event("$identify", "user", **{"$anon_distinct_id": "anon"}))
    ingest.send(*[ingest.event("$pageview", "user") for _ in range(2)])
    assert classes(ingest) == (3, 3)


def test_reset_then_capture_is_anonymous(ingest: Ingest) -> None:
    ingest.send(ingest.event("$identify", "user", **{"$anon_distinct_id": "anon-1"}))
    ingest.send(ingest.event("$pageview", "anon-2", anonymous=True, after=timedelta(minutes=5)))
    assert classes(ingest) == (1, 1)


def test_capturing_with_an_identified_distinct_id_is_identified(ingest: Ingest) -> None:
    ingest.send(ingest.event("$identify", "user", **{"$anon_distinct_id": "anon-1"}))
    ingest.send(ingest.event("$pageview", "user", anonymous=True, after=timedelta(minutes=5)))
    assert classes(ingest) == (0, 2)


def test_excluded_events_are_shown_but_not_billed(ingest: Ingest) -> None:
    ingest.send(
        ingest.event("$feature_flag_called", "u", anonymous=True),
        ingest.event("survey shown", "u", anonymous=True),
        ingest.event("$exception", "u"),
        ingest.event("$pageview", "u", anonymous=True),
    )
    report = usage(ingest)
    assert report["events"] == {"anonymous": 1, "identified": 0, "excluded": 3, "total": 1}
    assert report["excluded_events"] == {
        "$feature_flag_called": 1,
        "survey shown": 1,
        "$exception": 1,
    }


def test_duplicates_are_counted_once(ingest: Ingest) -> None:
    event = ingest.event("$pageview", "u", anonymous=True)
    ingest.send(event, event)
    ingest.send(event)
    assert classes(ingest) == (1, 0)


def test_usage_by_day_and_sdk_shows_a_client_update_turning_events_identified(
    ingest: Ingest,
) -> None:
    ingest.send(
        *[
            ingest.event(
                "$pageview", f"a{i}", anonymous=True, **{"$lib": "web", "$lib_version": "1.200.0"}
            )
            for i in range(4)
        ]
    )
    ingest.send(
        *[
            ingest.event("$pageview", f"b{i}", **{"$lib": "web", "$lib_version": "1.201.0"})
            for i in range(3)
        ]
    )
    report = usage(ingest)
    by_lib = {
        (r["lib"], r["lib_version"]): (r["anonymous"], r["identified"]) for r in report["by_lib"]
    }
    assert by_lib == {("web", "1.200.0"): (4, 0), ("web", "1.201.0"): (0, 3)}
    [day] = report["by_day"]
    assert (day["anonymous"], day["identified"]) == (4, 3)


def test_the_first_million_is_free_whatever_the_class() -> None:
    assert quote(DEFAULT_PRICING, 1_000_000, 0).total == 0
    assert quote(DEFAULT_PRICING, 0, 1_000_000).total == 0
    assert quote(DEFAULT_PRICING, 400_000, 600_000).total == 0
    assert DEFAULT_PRICING.free_allowance == 1_000_000


@pytest.mark.parametrize(
    ("events", "expected_identified", "expected_anonymous"),
    [
        (1_000_001, Decimal("0.000248"), Decimal("0.00005")),
        (2_000_000, Decimal("248"), Decimal("50")),
        (2_000_001, Decimal("248.000104"), Decimal("50.0000343")),
        (
            15_000_000,
            Decimal("248") + 13_000_000 * Decimal("0.000104"),
            Decimal("50") + 13_000_000 * Decimal("0.0000343"),
        ),
        (
            50_000_000,
            Decimal("248") + Decimal("1352") + 35_000_000 * Decimal("0.0000655"),
            Decimal("50") + Decimal("445.9") + 35_000_000 * Decimal("0.0000295"),
        ),
        (250_000_001, None, None),
    ],
)
def test_each_tier_boundary(
    events: int, expected_identified: Decimal | None, expected_anonymous: Decimal | None
) -> None:
    identified = quote(DEFAULT_PRICING, 0, events)
    anonymous = quote(DEFAULT_PRICING, events, 0)
    if expected_identified is not None:
        assert identified.total == expected_identified
        assert anonymous.total == expected_anonymous
    else:
        last = identified.lines[-1]
        assert last.identified_events == 1 and last.tier.identified == Decimal("0.00001")
    assert sum(line.identified_events for line in identified.lines) == events
    # Anonymous events are the cheaper class in every paid tier.
    assert anonymous.total < identified.total


def test_a_mixed_month_splits_every_tier_in_its_proportions() -> None:
    mixed = quote(DEFAULT_PRICING, 1_500_000, 500_000)
    paid = mixed.lines[1]
    assert (paid.anonymous_events, paid.identified_events) == (750_000, 250_000)
    assert mixed.total == 750_000 * Decimal("0.00005") + 250_000 * Decimal("0.000248")


def test_quota_over_http(live_server: LiveServer) -> None:
    base = f"/api/projects/{live_server.project_id}/billing"
    with live_server.api() as api:
        assert api.put(f"{base}/quota/", json={"max_events": 5}).status_code == 200

        def send(count: int, prefix: str) -> dict:
            response = httpx.post(
                live_server.url + "/batch/",
                json={
                    "api_key": live_server.token,
                    "batch": [
                        {
                            "event": "e",
                            "distinct_id": f"{prefix}{i}",
                            "properties": {"$process_person_profile": False},
                        }
                        for i in range(count)
                    ],
                },
            )
            assert response.status_code == 200
            live_server.settle()
            return response.json()

        assert send(6, "a") == {"status": 1}  # crosses the quota within this batch
        assert send(4, "b") == {"status": 1, "quota_limited": ["events"]}
        assert send(2, "c") == {"status": 1, "quota_limited": ["events"]}
        report = api.get(f"{base}/usage/").json()
        assert report["events"]["total"] == 6
        assert report["quota"] == {
            "max_events": 5,
            "max_amount": None,
            "limited": True,
            "dropped_events": 6,
        }
        assert len(live_server.events()) == 6
        # Raising the quota lets events in again.
        assert api.put(f"{base}/quota/", json={"max_events": None}).json()["limited"] is False
        assert send(1, "d") == {"status": 1}
        bad = api.put(f"{base}/quota/", json={"max_events": "lots"})
        assert bad.status_code == 400 and bad.json()["attr"] == "max_events"


def test_usage_quote_and_pricing_api(live_server: LiveServer) -> None:
    with live_server.api() as api:
        usage_report = api.get(
            f"/api/projects/{live_server.project_id}/billing/usage/", params={"period": "2026-01"}
        ).json()
        assert set(usage_report) >= {
            "period",
            "events",
            "by_day",
            "by_lib",
            "free_allowance",
            "cost",
            "projected",
            "quota",
        }
        assert usage_report["period"] == "2026-01" and usage_report["cost"]["currency"] == "USD"
        assert (
            api.get(
                f"/api/projects/{live_server.project_id}/billing/usage/",
                params={"period": "January"},
            ).status_code
            == 400
        )
        body = api.get(
            "/api/billing/quote/", params={"anonymous": 3_000_000, "identified": 1_000_000}
        ).json()
        assert [t["from"] for t in body["tiers"]] == [0, 1_000_000, 2_000_000]
        assert body["total"] == 202.95
        cheaper = {
            "currency": "EUR",
            "tiers": [
                {"up_to": 10, "anonymous": "0", "identified": "0"},
                {"up_to": None, "anonymous": "0.5", "identified": "1"},
            ],
        }
        assert api.put("/api/billing/pricing/", json=cheaper).status_code == 200
        priced = api.get("/api/billing/quote/", params={"anonymous": 20, "identified": 0}).json()
        assert (priced["total"], priced["currency"]) == (5.0, "EUR")
        invalid = api.put("/api/billing/pricing/", json={"tiers": [{"up_to": 5}]})
        assert invalid.status_code == 400


def test_cli_usage_and_quote(tmp_path: Path) -> None:
    data = tmp_path / "data"

    def run(*args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "magpie.cli", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    credentials = json.loads(run("init", "--data-dir", str(data)))
    assert credentials["project_id"] == 1
    table = run("billing", "usage", "--data-dir", str(data), "--period", "2026-01")
    assert "Usage 2026-01" in table and "anonymous" in table and "identified" in table
    priced = run("billing", "quote", "--anonymous", "3000000", "--identified", "1000000")
    assert "202.95 USD" in priced and "1,000,000–2,000,000" in priced
