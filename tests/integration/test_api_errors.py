"""Requests that once answered 500: each now answers a clear 4xx in the API's error
shape, and anything unexpected a 500 in that shape without a stack trace."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from magpie.app import Magpie, create_app
from magpie.settings import Settings
from tests.conftest import LiveServer, running_live_server

ERROR_KEYS = {"type", "code", "detail", "attr"}


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the whole module: these requests change nothing they share."""
    with running_live_server(tmp_path_factory.mktemp("errors") / "data") as live:
        yield live


def assert_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert set(body) == ERROR_KEYS and body["code"] == code, body
    assert "Traceback" not in response.text
    return body


def trends(formula: str, series: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "query": {
            "kind": "TrendsQuery",
            "series": series or [{"event": "a"}, {"event": "b"}],
            "trendsFilter": {"formula": formula},
        }
    }


@pytest.mark.parametrize(
    "formula",
    [
        "10**400",
        "2**10000",
        "1" + "0" * 400,
        "(-8)**0.5",
        "(" * 300 + "A" + ")" * 300,
        "-" * 900 + "A",
        "+".join(["A"] * 5000),
        "A if B else 1",
        "C",
    ],
)
def test_formulas_that_cannot_be_computed(live_server: LiveServer, formula: str) -> None:
    with live_server.api() as api:
        response = api.post(f"/api/projects/{live_server.project_id}/query/", json=trends(formula))
    body = assert_error(response, 400, "invalid_formula")
    assert body["attr"] == "trendsFilter" and len(body["detail"]) < 300


def test_formula_overflowing_on_the_data(live_server: LiveServer) -> None:
    """A**B is fine until the series' values make it too large for a float."""
    httpx.post(
        live_server.url + "/batch/",
        json={
            "api_key": live_server.token,
            "batch": [
                {"event": "a", "distinct_id": "u", "properties": {"n": 1e10}},
                {"event": "b", "distinct_id": "u", "properties": {"n": 100}},
            ],
        },
    ).raise_for_status()
    live_server.settle()
    series = [{"event": e, "math": "sum", "math_property": "n"} for e in "ab"]
    url = f"/api/projects/{live_server.project_id}/query/"
    with live_server.api() as api:
        assert_error(api.post(url, json=trends("A**B", series)), 400, "invalid_formula")
        fine = api.post(url, json=trends("B/A*1e10 + A/0", series))
        # Finite but far past 64-bit integers: sent as a float, not an int JSON cannot hold.
        huge = api.post(url, json=trends("A + 1e300", series))
    assert fine.status_code == 200, fine.text
    assert fine.json()["results"][0]["count"] == 100
    assert huge.status_code == 200, huge.text
    assert max(huge.json()["results"][0]["data"]) == 1e300


@pytest.mark.parametrize(
    "query",
    [{"kind": []}, {"kind": {}}, {"kind": 1}, {"kind": None}, {}, [], "HogQLQuery", None],
)
def test_query_kind_that_is_not_a_name(live_server: LiveServer, query: Any) -> None:
    with live_server.api() as api:
        response = api.post(f"/api/projects/{live_server.project_id}/query/", json={"query": query})
    assert_error(response, 400, "invalid_input")


@pytest.mark.parametrize(
    "date_range",
    [
        {"date_from": "-99999999999d"},
        {"date_from": "-9999y"},
        {"date_from": "0001-01-01T00:00:00+05:00"},
        {"date_from": "2026-01-01", "date_to": "9999-12-31T23:59:59-05:00"},
        {"date_from": "0100-01-01"},
        {"date_from": "-1000y"},
    ],
)
def test_trends_date_ranges_past_the_calendar(
    live_server: LiveServer, date_range: dict[str, str]
) -> None:
    query = {"kind": "TrendsQuery", "series": [{"event": "a"}], "dateRange": date_range}
    with live_server.api() as api:
        response = api.post(
            f"/api/projects/{live_server.project_id}/query/",
            json={"query": {**query, "compareFilter": {"compare": True}}},
        )
    assert assert_error(response, 400, "invalid_input")["attr"] == "dateRange"


def test_trends_with_too_many_buckets(live_server: LiveServer) -> None:
    query = {
        "kind": "TrendsQuery",
        "series": [{"event": "a"}],
        "interval": "hour",
        "dateRange": {"date_from": "-10y"},
    }
    with live_server.api() as api:
        response = api.post(f"/api/projects/{live_server.project_id}/query/", json={"query": query})
    assert "50,000" in assert_error(response, 400, "too_many_buckets")["detail"]


@pytest.mark.parametrize(
    "period", ["0000-01", "9999-12", "2026-13", "2026-1", "x" * 5000, "\u0663\u0663\u0663\u0663-01"]
)
def test_billing_periods_out_of_range(live_server: LiveServer, period: str) -> None:
    with live_server.api() as api:
        response = api.get(
            f"/api/projects/{live_server.project_id}/billing/usage/", params={"period": period}
        )
    assert assert_error(response, 400, "invalid_input")["attr"] == "period"


def test_billing_periods_at_the_calendar_edges(live_server: LiveServer) -> None:
    with live_server.api() as api:
        for period in ("0001-01", "9999-11"):
            response = api.get(
                f"/api/projects/{live_server.project_id}/billing/usage/", params={"period": period}
            )
            assert response.status_code == 200, response.text
            assert response.json()["period"] == period


@pytest.mark.parametrize("name", ["after", "before"])
@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00", "99999999999999999999"]
)
def test_event_times_past_the_calendar(live_server: LiveServer, name: str, value: str) -> None:
    with live_server.api() as api:
        response = api.get(f"/api/projects/{live_server.project_id}/events/", params={name: value})
    assert assert_error(response, 400, "invalid_input")["attr"] == name


@pytest.mark.parametrize("digits", [19, 20, 40, 5001])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/projects/{id}/"),
        ("PATCH", "/api/projects/{id}/"),
        ("GET", "/api/projects/{id}/events/"),
        ("GET", "/api/projects/{id}/persons/"),
        ("POST", "/api/projects/{id}/query/"),
        ("GET", "/api/projects/{id}/billing/usage/"),
        ("PUT", "/api/projects/{id}/billing/quota/"),
    ],
)
def test_project_ids_too_large_for_the_store(
    live_server: LiveServer, digits: int, method: str, path: str
) -> None:
    with live_server.api() as api:
        response = api.request(method, path.format(id="9" * digits), json={})
    assert_error(response, 404, "not_found")


def test_unexpected_errors_answer_in_the_error_shape(tmp_path: Path) -> None:
    """Anything nothing else handled is a 500 internal_error, in the same shape."""
    magpie = Magpie(Settings.load(env={}, data_dir=tmp_path / "data"))
    try:
        app = create_app(magpie)

        async def broken(request: Request) -> Response:
            raise RuntimeError("secret detail from deep inside")

        app.router.routes.append(Route("/broken", broken))
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)

        async def fetch() -> httpx.Response:
            async with httpx.AsyncClient(transport=transport, base_url="http://magpie") as client:
                return await client.get("/broken")

        response = asyncio.run(fetch())
    finally:
        magpie.close()
    body = assert_error(response, 500, "internal_error")
    assert body["type"] == "server_error" and "secret" not in response.text


def test_wrong_method_names_the_allowed_ones(live_server: LiveServer) -> None:
    with live_server.api() as api:
        response = api.delete(f"/api/projects/{live_server.project_id}/billing/quota/")
    assert_error(response, 405, "method_not_allowed")
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT"}


@pytest.mark.parametrize(
    "pricing",
    [
        {"tiers": [[None, None]]},
        {"tiers": ["free"]},
        {"tiers": "free"},
        [],
        {"tiers": [{"up_to": None, "anonymous": "NaN", "identified": "0"}]},
        {"tiers": [{"up_to": None, "anonymous": "Infinity", "identified": "0"}]},
        {"tiers": [{"up_to": None, "anonymous": "1e999999", "identified": "0"}]},
        {"tiers": [{"up_to": None, "anonymous": True, "identified": "0"}]},
        {"tiers": [{"up_to": None, "anonymous": {}, "identified": "0"}]},
        {"tiers": [{"up_to": 2**63, "anonymous": 0, "identified": 0}, {"up_to": None}]},
        {"currency": 7, "tiers": [{"up_to": None, "anonymous": 0, "identified": 0}]},
    ],
)
def test_price_lists_that_are_not_price_lists(live_server: LiveServer, pricing: Any) -> None:
    with live_server.api() as api:
        response = api.put("/api/billing/pricing/", json=pricing)
        assert_error(response, 400, "invalid_input")
        assert api.get("/api/billing/quote/", params={"anonymous": 10**7}).status_code == 200


def test_quota_larger_than_the_store_holds(live_server: LiveServer) -> None:
    with live_server.api() as api:
        response = api.put(
            f"/api/projects/{live_server.project_id}/billing/quota/",
            json={"max_events": 2**63, "max_amount": None},
        )
    assert assert_error(response, 400, "invalid_input")["attr"] == "max_events"


def test_sql_nested_deeper_than_the_parser_goes(live_server: LiveServer) -> None:
    sql = "SELECT " + "(" * 5000 + "1" + ")" * 5000
    with live_server.api() as api:
        response = api.post(
            f"/api/projects/{live_server.project_id}/query/",
            json={"query": {"kind": "HogQLQuery", "query": sql}},
        )
        assert_error(response, 400, "query_too_complex")
        # The server is none the worse for it.
        fine = api.post(
            f"/api/projects/{live_server.project_id}/query/",
            json={"query": {"kind": "HogQLQuery", "query": "SELECT ((1))"}},
        )
    assert fine.status_code == 200 and fine.json()["results"] == [[1]]


@pytest.mark.parametrize(
    ("operator", "value"), [("gt", "1e999"), ("lt", "-inf"), ("between", [0, "inf"])]
)
def test_property_filters_with_infinite_numbers(
    live_server: LiveServer, operator: str, value: Any
) -> None:
    query = {
        "kind": "TrendsQuery",
        "series": [{"event": "a"}],
        "properties": [{"key": "n", "operator": operator, "value": value}],
    }
    with live_server.api() as api:
        response = api.post(f"/api/projects/{live_server.project_id}/query/", json={"query": query})
    assert "not a number" in assert_error(response, 400, "invalid_input")["detail"] or (
        "two numbers" in response.json()["detail"]
    )
