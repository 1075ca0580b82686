"""Whatever JSON a client sends, capture answers with a 4xx code or takes it: never a 500."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from magpie.capture.decoder import CaptureLimits, DecodedBatch, decode_v0, decode_v1
from magpie.capture.decoding import WireRequest
from magpie.errors import MagpieError

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
LIMITS = CaptureLimits(20 * 1024 * 1024, 2 * 1024 * 1024)
V0_PATHS = ["/e/", "/i/v0/e/", "/batch/", "/capture/", "/track/", "/engage/"]

# Values that have broken parsers: out-of-range dates, odd digits, NULs, huge numbers.
HOSTILE_TEXT = [
    "",
    " ",
    "\0",
    "a\0b",
    "²",
    "٣",
    "9" * 5000,
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59Z",
    "-999999-01-01",
    "1e400",
    "NaN",
    "phx_personal",
    "\ud7ff",
    "x" * 300,
]
HOSTILE_NUMBERS = [0, -1, 2**63, -(2**63), 2**64 - 1, 1e308, -1e308, 0.5, 1e15, -1e15]
scalars = (
    st.none()
    | st.booleans()
    | st.sampled_from(HOSTILE_NUMBERS)
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(HOSTILE_TEXT)
    | st.text(max_size=20)
)
json_values = st.recursive(
    scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "$set", "token", ""]), children, max_size=3)
    ),
    max_leaves=8,
)
FIELDS = [
    "event",
    "distinct_id",
    "$distinct_id",
    "properties",
    "uuid",
    "timestamp",
    "offset",
    "$set",
    "$set_once",
    "token",
    "api_key",
    "$token",
    "options",
    "session_id",
]
PROPERTIES = [
    "distinct_id",
    "token",
    "$cookieless_mode",
    "$ignore_sent_at",
    "$process_person_profile",
]
events = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["e", "$pageview", "$performance_event"]) | json_values,
        "distinct_id": st.just("d") | json_values,
    },
    optional={
        **{field: json_values for field in FIELDS[2:]},
        "properties": st.dictionaries(st.sampled_from(PROPERTIES), json_values, max_size=3)
        | json_values,
    },
)
bodies = (
    st.fixed_dictionaries(
        {
            "api_key": st.just("phc_test") | json_values,
            "batch": st.lists(events, max_size=4) | json_values,
        },
        optional={
            "sent_at": json_values,
            "created_at": json_values,
            "historical_migration": json_values,
        },
    )
    | st.lists(events, max_size=4)
    | events
    | json_values
)
deep = st.integers(min_value=200, max_value=1100).map(lambda depth: "[" * depth + "]" * depth)


def outcome(decode: Any, request: WireRequest) -> DecodedBatch | MagpieError:
    try:
        decoded: DecodedBatch = decode(request, LIMITS, NOW)
    except MagpieError as exc:
        assert 400 <= exc.status < 500, (exc.status, exc.code, exc.message)
        return exc
    orjson.loads(decoded.events_json)  # what goes to the queue is JSON
    return decoded


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    body=bodies,
    path=st.sampled_from(V0_PATHS),
    query_sent_at=st.sampled_from(["", "1e400", "²", "9" * 400]),
)
def test_v0_never_fails_with_a_server_error(body: object, path: str, query_sent_at: str) -> None:
    query = {"_": query_sent_at} if query_sent_at else {}
    outcome(decode_v0, WireRequest(path, "POST", query, {}, orjson.dumps(body)))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=bodies)
def test_v1_never_fails_with_a_server_error(body: object) -> None:
    request = WireRequest("/i/v1/analytics/events", "POST", {}, {}, orjson.dumps(body))
    outcome(decode_v1, request)


@given(nesting=deep, where=st.sampled_from(["distinct_id", "event", "token", "uuid", "properties"]))
def test_deeply_nested_values_are_refused_cleanly(nesting: str, where: str) -> None:
    event = f'{{"event": "e", "distinct_id": "d", "{where}": {nesting}}}'
    body = f'{{"api_key": "phc_test", "batch": [{event}]}}'.encode()
    outcome(decode_v0, WireRequest("/batch/", "POST", {}, {}, body))
    v1 = f'{{"batch": [{event}]}}'.encode()
    outcome(decode_v1, WireRequest("/i/v1/analytics/events", "POST", {}, {}, v1))
