"""Magpie's Python SDK (sdk/python) against a fake transport, without a network.

The identity state machine (posthog-js's person_profiles, compat §4), what goes
on the wire, batching, the bounded queue, retries, persistence, and the promise
that no public method raises into the host app.
"""

from __future__ import annotations

import gzip
import json
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from magpie_sdk import Client, Response, TransportError, __version__
from magpie_sdk.encoding import MAX_BATCH_BYTES
from magpie_sdk.retry import Backoff, parse_retry_after
from magpie_sdk.state import Identity, IdentityState
from magpie_sdk.storage import MemoryStorage
from magpie_sdk.uuid7 import uuid7

TOKEN = "phc_sdk_test"
HOST = "http://magpie.test"


@dataclass
class Sent:
    url: str
    body: bytes
    headers: dict[str, str]
    timeout: float

    def payload(self) -> dict[str, Any]:
        raw = gzip.decompress(self.body) if self.headers.get("Content-Encoding") else self.body
        # Strict JSON, as the server parses it: NaN or Infinity would fail here.
        return json.loads(raw, parse_constant=_refuse_constant)

    def events(self) -> list[dict[str, Any]]:
        return list(self.payload()["batch"])


def _refuse_constant(name: str) -> None:
    raise ValueError(f"non-standard JSON constant {name}")


class FakeTransport:
    """Records every request and answers from a script (a Response, or an
    exception to raise), then with 200."""

    def __init__(self, *script: Response | BaseException) -> None:
        self.requests: list[Sent] = []
        self.script = list(script)
        self.cond = threading.Condition()

    def post(self, url: str, body: bytes, headers: Any, timeout: float) -> Response:
        with self.cond:
            self.requests.append(Sent(url, body, dict(headers), timeout))
            self.cond.notify_all()
            step = self.script.pop(0) if self.script else Response(200, {}, b'{"status":1}')
        if isinstance(step, BaseException):
            raise step
        return step

    def wait_for_requests(self, count: int) -> None:
        with self.cond:
            arrived = self.cond.wait_for(lambda: len(self.requests) >= count, timeout=10)
        assert arrived, f"expected {count} requests, got {len(self.requests)}"

    def events(self) -> list[dict[str, Any]]:
        return [event for request in self.requests for event in request.events()]


MakeClient = Callable[..., tuple[Client, FakeTransport]]


@pytest.fixture
def make_client() -> Iterator[MakeClient]:
    clients: list[Client] = []

    def make(*script: Response | BaseException, **options: Any) -> tuple[Client, FakeTransport]:
        transport = options.pop("transport", None) or FakeTransport(*script)
        # Nothing is sent before flush() unless a test asks for it.
        options.setdefault("flush_interval", 3600)
        client = Client(TOKEN, options.pop("host", HOST), transport=transport, **options)
        clients.append(client)
        return client, transport

    yield make
    for client in clients:
        client.shutdown(timeout=5)


def delivered(client: Client, transport: FakeTransport) -> list[dict[str, Any]]:
    assert client.flush(timeout=10), "flush() timed out"
    return transport.events()


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def sdk_warnings(caplog: pytest.LogCaptureFixture, level: int = logging.WARNING) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "magpie_sdk" and r.levelno >= level]


# -- the event on the wire ---------------------------------------------------------------


def test_first_use_is_anonymous_with_a_uuid7_that_is_also_the_device_id(
    make_client: MakeClient,
) -> None:
    client, transport = make_client()
    anonymous_id = client.get_distinct_id()
    assert uuid.UUID(anonymous_id).version == 7
    assert client.get_device_id() == anonymous_id
    assert not client.is_identified()

    returned_uuid = client.capture("opened", {"screen": "home"})
    [event] = delivered(client, transport)

    assert event["event"] == "opened"
    assert event["uuid"] == returned_uuid and uuid.UUID(event["uuid"]).version == 7
    assert datetime.fromisoformat(event["timestamp"]).utcoffset() == timedelta(0)
    assert event["distinct_id"] == anonymous_id
    props = event["properties"]
    assert props["screen"] == "home"
    assert props["distinct_id"] == anonymous_id
    assert props["token"] == TOKEN
    assert props["$device_id"] == anonymous_id
    assert props["$lib"] == "magpie-python"
    assert props["$lib_version"] == __version__
    assert props["$is_identified"] is False
    assert props["$process_person_profile"] is False
    assert "$groups" not in props
    assert "$set" not in event


def test_callers_cannot_override_the_identity_stamps(make_client: MakeClient) -> None:
    client, transport = make_client()
    client.capture(
        "spoof",
        {
            "$process_person_profile": True,
            "$is_identified": True,
            "distinct_id": "someone-else",
            "token": "phc_other",
            "$device_id": "other-device",
            "$lib": "web",
        },
    )
    [event] = delivered(client, transport)
    props = event["properties"]
    assert props["$process_person_profile"] is False
    assert props["$is_identified"] is False
    assert props["distinct_id"] == event["distinct_id"] == client.get_distinct_id()
    assert props["token"] == TOKEN
    assert props["$device_id"] == client.get_device_id()
    assert props["$lib"] == "magpie-python"
    assert list(props)[-2:] == ["$is_identified", "$process_person_profile"]


@pytest.mark.parametrize("use_gzip", [True, False])
def test_batch_request_shape_headers_and_gzip(make_client: MakeClient, use_gzip: bool) -> None:
    client, transport = make_client(gzip=use_gzip, timeout=7)
    client.capture("a")
    client.capture("b")
    client.flush()

    [request] = transport.requests
    assert request.url == "http://magpie.test/batch/"
    assert request.timeout == 7
    assert request.headers["User-Agent"] == f"magpie-python/{__version__}"
    assert request.headers["Content-Type"] == "application/json"
    if use_gzip:
        assert request.headers["Content-Encoding"] == "gzip"
        assert request.body[:2] == b"\x1f\x8b"
    else:
        assert "Content-Encoding" not in request.headers
        assert request.body.startswith(b"{")
    payload = request.payload()
    assert set(payload) == {"api_key", "batch", "sent_at"}
    assert payload["api_key"] == TOKEN
    assert datetime.fromisoformat(payload["sent_at"]).tzinfo is not None
    assert [e["event"] for e in payload["batch"]] == ["a", "b"]


def test_host_with_path_prefix_and_trailing_slash(make_client: MakeClient) -> None:
    client, transport = make_client(host="https://example.test/magpie/")
    client.capture("a")
    client.flush()
    assert transport.requests[0].url == "https://example.test/magpie/batch/"


def test_explicit_timestamp_and_uuid(make_client: MakeClient) -> None:
    client, transport = make_client()
    given = uuid.uuid4()
    client.capture(
        "aware",
        timestamp=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
        uuid=given,
    )
    client.capture("text", timestamp="2026-01-02T00:00:00Z", uuid=str(given).upper())
    naive = datetime(2026, 1, 2, 3, 4, 5)
    client.capture("naive", timestamp=naive)
    aware, text, naive_event = delivered(client, transport)
    assert aware["timestamp"] == "2026-01-02T01:04:05+00:00"
    assert aware["uuid"] == str(given)
    assert text["timestamp"] == "2026-01-02T00:00:00Z"
    assert text["uuid"] == str(given)
    # A naive datetime is local time, like datetime.now().
    assert datetime.fromisoformat(naive_event["timestamp"]) == naive.astimezone(UTC)


def test_uuid7_ids_are_version_7_and_sort_in_creation_order() -> None:
    ids = [uuid7() for _ in range(2000)]
    assert len(set(ids)) == len(ids)
    assert sorted(ids) == ids
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7}
    assert {u.variant for u in parsed} == {uuid.RFC_4122}
    now_ms = datetime.now(UTC).timestamp() * 1000
    assert abs((parsed[0].int >> 80) - now_ms) < 60_000


@pytest.mark.parametrize(
    ("mode", "state", "expected"),
    [
        ("identified_only", {}, False),
        ("identified_only", {"user_state": "identified"}, True),
        ("identified_only", {"groups": {"company": "acme"}}, True),
        ("identified_only", {"alias": "alias-1"}, True),
        ("identified_only", {"epp": True}, True),
        ("always", {}, True),
        ("never", {"user_state": "identified", "epp": True, "alias": "a"}, False),
        ("never", {"groups": {"company": "acme"}}, False),
    ],
)
def test_has_person_processing_is_compat_4_3(
    mode: Any, state: dict[str, Any], expected: bool
) -> None:
    storage = MemoryStorage()
    storage.save(IdentityState(distinct_id="d", device_id="d", **state).to_json())
    identity = Identity(mode, storage)
    assert identity.has_person_processing() is expected
    assert identity.stamp_event() == (state.get("user_state") == "identified", expected)
    # A personful event makes processing sticky ($epp), an anonymous one does not.
    assert identity.state.epp is (expected or state.get("epp", False))


# -- identify / alias / group / person properties -----------------------------------------


def test_identify_a_new_id_while_anonymous_sends_identify(make_client: MakeClient) -> None:
    client, transport = make_client()
    anonymous_id = client.get_distinct_id()
    client.capture("before")
    client.identify("user-1", set={"email": "a@example.com"}, set_once={"first": "desktop"})
    client.capture("after")
    before, identify, after = delivered(client, transport)

    assert before["properties"]["$process_person_profile"] is False
    assert identify["event"] == "$identify"
    assert identify["distinct_id"] == "user-1"
    assert identify["properties"]["distinct_id"] == "user-1"
    assert identify["properties"]["$anon_distinct_id"] == anonymous_id
    assert identify["$set"] == {"email": "a@example.com"}
    assert identify["$set_once"] == {"first": "desktop"}
    assert identify["properties"]["$process_person_profile"] is True
    assert identify["properties"]["$is_identified"] is True
    assert after["distinct_id"] == "user-1"
    assert after["properties"]["$process_person_profile"] is True
    assert after["properties"]["$is_identified"] is True
    # The device keeps its id across identification.
    assert after["properties"]["$device_id"] == anonymous_id
    assert client.get_distinct_id() == "user-1" and client.is_identified()
    assert client.get_person_properties_for_flags() == {
        "email": "a@example.com",
        "first": "desktop",
    }


def test_identify_with_the_anonymous_id_itself_sends_set_not_identify(
    make_client: MakeClient,
) -> None:
    client, transport = make_client()
    anonymous_id = client.get_distinct_id()
    client.identify(anonymous_id, set={"plan": "free"})
    [event] = delivered(client, transport)
    assert event["event"] == "$set"
    assert event["distinct_id"] == anonymous_id
    assert event["$set"] == {"plan": "free"}
    assert event["$set_once"] == {}
    assert event["properties"]["$is_identified"] is True
    assert client.is_identified()


def test_identify_while_identified_switches_id_without_a_merge_event(
    make_client: MakeClient,
) -> None:
    client, transport = make_client()
    client.identify("user-a")
    client.identify("user-b")
    assert client.get_distinct_id() == "user-b"
    client.identify("user-c", set={"plan": "pro"})
    client.identify("user-c", set={"plan": "pro"})  # the same update again is not re-sent
    events = delivered(client, transport)
    assert [e["event"] for e in events] == ["$identify", "$set"]
    assert events[0]["distinct_id"] == "user-a"
    assert events[1]["distinct_id"] == "user-c"
    assert events[1]["$set"] == {"plan": "pro"}
    assert "$anon_distinct_id" not in events[1]["properties"]


@pytest.mark.parametrize(
    "bad_id",
    [
        "",
        "   ",
        "null",
        "None",
        "0",
        "anonymous",
        "'guest'",
        "Distinct_ID",
        "x" * 201,
        None,
        True,
        1.5,
    ],
)
def test_identify_refuses_unusable_ids(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture, bad_id: Any
) -> None:
    client, transport = make_client()
    anonymous_id = client.get_distinct_id()
    client.identify(bad_id)
    client.capture("after")
    [event] = delivered(client, transport)
    assert client.get_distinct_id() == anonymous_id
    assert event["properties"]["$process_person_profile"] is False
    assert any("identify() ignored" in m for m in sdk_warnings(caplog))


def test_identify_turns_numbers_into_strings(make_client: MakeClient) -> None:
    client, transport = make_client()
    client.identify(42)  # type: ignore[arg-type]
    [event] = delivered(client, transport)
    assert event["distinct_id"] == "42" and client.get_distinct_id() == "42"


def test_alias_sends_create_alias_and_switches_processing_on(make_client: MakeClient) -> None:
    client, transport = make_client()
    anonymous_id = client.get_distinct_id()
    client.alias("alias-1")
    client.capture("after")
    alias_event, after = delivered(client, transport)
    assert alias_event["event"] == "$create_alias"
    assert alias_event["distinct_id"] == anonymous_id
    assert alias_event["properties"]["alias"] == "alias-1"
    assert alias_event["properties"]["distinct_id"] == anonymous_id
    assert alias_event["properties"]["$process_person_profile"] is True
    # The local id does not change; the alias is joined on the server.
    assert client.get_distinct_id() == anonymous_id
    assert after["properties"]["$process_person_profile"] is True
    assert after["properties"]["$is_identified"] is False


def test_alias_to_the_current_id_identifies_instead(make_client: MakeClient) -> None:
    client, transport = make_client()
    client.alias(client.get_distinct_id())
    [event] = delivered(client, transport)
    assert event["event"] == "$set"
    assert client.is_identified()


def test_identify_with_the_registered_alias_keeps_the_local_id(make_client: MakeClient) -> None:
    client, transport = make_client()
    anonymous_id = client.get_distinct_id()
    client.alias("alias-2")
    client.identify("alias-2")
    _, identify = delivered(client, transport)
    assert identify["event"] == "$identify"
    assert identify["distinct_id"] == "alias-2"
    assert identify["properties"]["$anon_distinct_id"] == anonymous_id
    assert client.get_distinct_id() == anonymous_id


def test_group_registers_groups_and_sends_groupidentify_only_when_needed(
    make_client: MakeClient,
) -> None:
    client, transport = make_client()
    client.group("company", "acme", {"name": "Acme"})
    client.capture("one")
    client.group("company", "acme")  # same key, no properties: nothing to send
    client.group("company", "acme", {"size": 5})
    client.group("company", "globex")
    client.capture("two", groups={"project": "p1"})
    client.capture("three")
    events = delivered(client, transport)
    assert [e["event"] for e in events] == [
        "$groupidentify",
        "one",
        "$groupidentify",
        "$groupidentify",
        "two",
        "three",
    ]
    first = events[0]["properties"]
    assert (first["$group_type"], first["$group_key"], first["$group_set"]) == (
        "company",
        "acme",
        {"name": "Acme"},
    )
    assert first["$groups"] == {"company": "acme"}
    assert events[1]["properties"]["$groups"] == {"company": "acme"}
    assert events[1]["properties"]["$process_person_profile"] is True
    assert events[2]["properties"]["$group_set"] == {"size": 5}
    assert events[3]["properties"]["$group_key"] == "globex"
    assert events[3]["properties"]["$group_set"] == {}
    # Per-event groups are added to that event only.
    assert events[4]["properties"]["$groups"] == {"company": "globex", "project": "p1"}
    assert events[5]["properties"]["$groups"] == {"company": "globex"}
    # Flag properties of the old group were dropped when the key changed.
    assert client.get_group_properties_for_flags() == {}


def test_per_event_groups_do_not_switch_processing_on(make_client: MakeClient) -> None:
    client, transport = make_client()
    client.capture("x", groups={"company": "acme"})
    [event] = delivered(client, transport)
    assert event["properties"]["$groups"] == {"company": "acme"}
    assert event["properties"]["$process_person_profile"] is False


def test_set_and_unset_person_properties(make_client: MakeClient) -> None:
    client, transport = make_client()
    client.set_person_properties(set={"plan": "pro"}, set_once={"signup": "2026"})
    client.set_person_properties(set={"plan": "pro"}, set_once={"signup": "2026"})  # deduplicated
    client.unset_person_properties(["plan"])
    client.unset_person_properties("signup")  # one key, not six letters
    client.set_person_properties(set={"plan": "pro"})  # sent again after the unset
    events = delivered(client, transport)
    assert [e["event"] for e in events] == ["$set", "$set", "$set", "$set"]
    assert events[0]["$set"] == {"plan": "pro"}
    assert events[0]["$set_once"] == {"signup": "2026"}
    assert events[0]["properties"]["$process_person_profile"] is True
    assert events[1]["properties"]["$unset"] == ["plan"]
    assert events[2]["properties"]["$unset"] == ["signup"]
    assert events[3]["$set"] == {"plan": "pro"}
    assert client.get_person_properties_for_flags() == {"plan": "pro"}
    assert not client.is_identified()


def test_create_person_profile_sends_one_empty_set(make_client: MakeClient) -> None:
    client, transport = make_client()
    client.create_person_profile()
    client.create_person_profile()
    client.capture("after")
    create, after = delivered(client, transport)
    assert create["event"] == "$set"
    assert (create["$set"], create["$set_once"]) == ({}, {})
    assert create["properties"]["$process_person_profile"] is True
    assert after["properties"]["$process_person_profile"] is True


def test_create_person_profile_sends_nothing_when_processing_is_already_on(
    make_client: MakeClient,
) -> None:
    client, transport = make_client(person_profiles="always")
    client.create_person_profile()
    client.capture("x")
    assert [e["event"] for e in delivered(client, transport)] == ["x"]


IDENTIFYING_CALLS: dict[str, Callable[[Client], None]] = {
    "identify": lambda c: c.identify("user-9"),
    "alias": lambda c: c.alias("alias-9"),
    "group": lambda c: c.group("company", "acme"),
    "set_person_properties": lambda c: c.set_person_properties(set={"a": 1}),
    "unset_person_properties": lambda c: c.unset_person_properties(["a"]),
    "set_group_properties_for_flags": lambda c: c.set_group_properties_for_flags(
        {"company": {"size": 1}}
    ),
    "create_person_profile": lambda c: c.create_person_profile(),
}


@pytest.mark.parametrize("call", sorted(IDENTIFYING_CALLS))
def test_identified_only_calls_that_switch_person_processing_on(
    make_client: MakeClient, call: str
) -> None:
    client, transport = make_client()
    client.capture("before")
    assert client._has_person_processing() is False
    IDENTIFYING_CALLS[call](client)
    assert client._has_person_processing() is True
    client.capture("after")
    events = delivered(client, transport)
    assert named(events, "before")[0]["properties"]["$process_person_profile"] is False
    assert named(events, "after")[0]["properties"]["$process_person_profile"] is True


def test_set_person_properties_for_flags_keeps_events_anonymous(make_client: MakeClient) -> None:
    client, transport = make_client()
    client.set_person_properties_for_flags({"plan": "pro"})
    client.set_person_properties_for_flags({"seats": 3})
    client.capture("after")
    [event] = delivered(client, transport)
    assert event["properties"]["$process_person_profile"] is False
    assert client.get_person_properties_for_flags() == {"plan": "pro", "seats": 3}


@pytest.mark.parametrize("call", sorted(IDENTIFYING_CALLS))
def test_never_mode_ignores_identifying_calls_with_a_warning(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture, call: str
) -> None:
    client, transport = make_client(person_profiles="never")
    anonymous_id = client.get_distinct_id()
    IDENTIFYING_CALLS[call](client)
    client.capture("after")
    [event] = delivered(client, transport)
    assert event["event"] == "after"
    assert event["properties"]["$process_person_profile"] is False
    assert event["properties"]["$is_identified"] is False
    assert "$groups" not in event["properties"]
    assert client.get_distinct_id() == anonymous_id
    assert not client.is_identified()
    assert client.get_group_properties_for_flags() == {}
    assert any(f"{call}() ignored" in m and "never" in m for m in sdk_warnings(caplog))


def test_always_mode_makes_every_event_personful(make_client: MakeClient) -> None:
    client, transport = make_client(person_profiles="always")
    client.capture("a")
    client.identify("user-1")
    client.capture("b")
    a, identify, b = delivered(client, transport)
    assert a["properties"]["$process_person_profile"] is True
    assert a["properties"]["$is_identified"] is False
    assert identify["event"] == "$identify"
    assert b["properties"]["$process_person_profile"] is True
    assert b["properties"]["$is_identified"] is True


def test_reset_returns_to_a_new_anonymous_id_keeping_the_device(make_client: MakeClient) -> None:
    client, transport = make_client()
    device_id = client.get_device_id()
    client.identify("user-1")
    client.group("company", "acme")
    client.alias("alias-1")
    client.set_person_properties_for_flags({"plan": "pro"})
    client.reset()
    new_id = client.get_distinct_id()
    assert new_id not in (device_id, "user-1")
    assert uuid.UUID(new_id).version == 7
    assert client.get_device_id() == device_id
    assert not client.is_identified()
    assert client.get_person_properties_for_flags() == {}
    client.capture("after_reset")
    client.reset(reset_device_id=True)
    assert client.get_device_id() == client.get_distinct_id() != device_id
    after = named(delivered(client, transport), "after_reset")[0]
    assert after["distinct_id"] == new_id
    assert after["properties"]["$process_person_profile"] is False
    assert after["properties"]["$is_identified"] is False
    assert "$groups" not in after["properties"]


# -- persistence ------------------------------------------------------------------------


def test_file_state_survives_a_new_client_and_epp_is_sticky(
    make_client: MakeClient, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    first, _ = make_client(persistence="file", persistence_path=path, person_profiles="always")
    anonymous_id = first.get_distinct_id()
    first.capture("personful")  # switches $epp on for good
    first.group("company", "acme")
    first.set_person_properties_for_flags({"plan": "pro"})
    first.shutdown()

    saved = json.loads(path.read_text())
    assert saved["distinct_id"] == anonymous_id
    assert saved["$user_state"] == "anonymous"
    assert saved["$epp"] is True
    assert saved["$groups"] == {"company": "acme"}

    second, transport = make_client(persistence="file", persistence_path=path)
    assert second.get_distinct_id() == anonymous_id
    assert second.get_device_id() == anonymous_id
    assert second.get_person_properties_for_flags() == {"plan": "pro"}
    second.reset()  # clears groups and $epp ...
    second.capture("after_reset")
    third, transport3 = make_client(persistence="file", persistence_path=path)
    third.capture("third")
    [after_reset] = delivered(second, transport)
    [third_event] = delivered(third, transport3)
    assert after_reset["properties"]["$process_person_profile"] is False
    # ... and the reset state is what the next start sees.
    assert third.get_distinct_id() == second.get_distinct_id() != anonymous_id
    assert third.get_device_id() == anonymous_id
    assert third_event["properties"]["$process_person_profile"] is False


def test_sticky_epp_keeps_events_personful_after_a_config_change(
    make_client: MakeClient, tmp_path: Path
) -> None:
    path = tmp_path / "state.json"
    first, _ = make_client(persistence="file", persistence_path=path, person_profiles="always")
    first.capture("personful")
    first.shutdown()
    second, transport = make_client(persistence="file", persistence_path=path)
    second.capture("later")
    [event] = delivered(second, transport)
    assert event["properties"]["$process_person_profile"] is True
    assert event["properties"]["$is_identified"] is False


def test_default_state_file_is_under_the_home_directory(
    make_client: MakeClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    client, _ = make_client(persistence="file")
    client.identify("user-home")
    path = tmp_path / ".magpie" / f"{TOKEN}.json"
    saved = json.loads(path.read_text())
    assert saved["distinct_id"] == "user-home"
    assert saved["$user_state"] == "identified"
    assert saved["$epp"] is True
    # Written by rename: no temporary files are left behind.
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_corrupt_state_file_starts_a_new_anonymous_user(
    make_client: MakeClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "state.json"
    path.write_text("{not json")
    client, _ = make_client(persistence="file", persistence_path=path)
    assert uuid.UUID(client.get_distinct_id()).version == 7
    assert json.loads(path.read_text())["distinct_id"] == client.get_distinct_id()
    assert any("corrupt" in m for m in sdk_warnings(caplog))


def test_unwritable_state_file_is_logged_and_the_client_keeps_working(
    make_client: MakeClient, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    client, transport = make_client(persistence="file", persistence_path=blocker / "state.json")
    client.identify("user-1")
    client.capture("x")
    assert [e["event"] for e in delivered(client, transport)] == ["$identify", "x"]
    assert client.get_distinct_id() == "user-1"
    assert any("could not save" in m for m in sdk_warnings(caplog, logging.ERROR))


# -- batching, queue bound, retries ---------------------------------------------------------


def test_batches_by_flush_at(make_client: MakeClient) -> None:
    client, transport = make_client(flush_at=10)
    for i in range(25):
        client.capture("e", {"i": i})
    transport.wait_for_requests(2)
    assert [len(r.events()) for r in transport.requests] == [10, 10]
    client.flush()
    assert [len(r.events()) for r in transport.requests] == [10, 10, 5]
    assert [e["properties"]["i"] for e in transport.events()] == list(range(25))


def test_flush_interval_sends_without_an_explicit_flush(make_client: MakeClient) -> None:
    client, transport = make_client(flush_at=100, flush_interval=0.01)
    client.capture("soon")
    transport.wait_for_requests(1)
    assert [e["event"] for e in transport.events()] == ["soon"]


class BlockingTransport(FakeTransport):
    """Holds the first request until released, so the queue fills behind it."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()

    def post(self, url: str, body: bytes, headers: Any, timeout: float) -> Response:
        response = super().post(url, body, headers, timeout)
        assert self.release.wait(10)
        return response


def test_full_queue_drops_the_oldest_events_and_counts_them(make_client: MakeClient) -> None:
    transport = BlockingTransport()
    client, _ = make_client(transport=transport, flush_at=1, flush_interval=0, max_queue_size=5)
    client.capture("e", {"i": 0})
    transport.wait_for_requests(1)  # event 0 is in flight, the queue is empty
    for i in range(1, 13):
        client.capture("e", {"i": i})
    assert client.dropped_events == 7
    transport.release.set()
    assert client.flush(timeout=10)
    assert [e["properties"]["i"] for e in transport.events()] == [0, 8, 9, 10, 11, 12]
    assert client.dropped_events == 7
    assert client.sent_events == 6


def test_retries_with_backoff_and_honours_retry_after(make_client: MakeClient) -> None:
    sleeps: list[float] = []
    client, transport = make_client(
        Response(503, {}, b'{"code": "service_unavailable"}'),
        Response(429, {"retry-after": "7"}),
        TransportError("connection refused"),
        Response(408),
        Response(200),
        sleep=sleeps.append,
        max_retries=4,
    )
    client.capture("retried")
    client.flush()
    assert len(transport.requests) == 5
    assert len(sleeps) == 4
    assert 0.5 <= sleeps[0] <= 1.0  # 1 s with jitter
    assert sleeps[1] == 7.0  # Retry-After wins over the backoff
    assert 2.0 <= sleeps[2] <= 4.0
    assert 4.0 <= sleeps[3] <= 8.0
    uuids = {r.events()[0]["uuid"] for r in transport.requests}
    assert len(uuids) == 1  # the same event each time, so the server can deduplicate
    assert (client.sent_events, client.failed_events) == (1, 0)


def test_gives_up_after_max_retries(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps: list[float] = []
    client, transport = make_client(*[Response(500)] * 10, sleep=sleeps.append, max_retries=2)
    client.capture("a")
    client.capture("b")
    assert client.flush(timeout=10)
    assert len(transport.requests) == 3
    assert len(sleeps) == 2
    assert client.failed_events == 2
    assert any("giving up on 2 events" in m for m in sdk_warnings(caplog, logging.ERROR))


@pytest.mark.parametrize("status", [400, 401, 403, 413])
def test_no_retry_on_client_errors(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    sleeps: list[float] = []
    client, transport = make_client(Response(status, {}, b'{"code": "bad"}'), sleep=sleeps.append)
    client.capture("refused")
    client.flush()
    client.capture("next")
    client.flush()
    assert len(transport.requests) == 2
    assert sleeps == []
    assert client.failed_events == 1
    assert [e["event"] for e in transport.requests[1].events()] == ["next"]
    assert any(f"HTTP {status}" in m for m in sdk_warnings(caplog, logging.ERROR))


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:10 GMT", now=now) == 10.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
    backoff = Backoff()
    assert backoff.delay(0, retry_after=600) == 60.0  # capped
    assert 15.0 <= backoff.delay(10) <= 30.0  # capped at 30 s


def test_batches_are_split_to_stay_under_the_request_size_limit(make_client: MakeClient) -> None:
    client, transport = make_client(gzip=False)
    blob = "x" * (800 * 1024)
    for i in range(8):
        client.capture("big", {"i": i, "blob": blob})
    client.flush()
    assert len(transport.requests) >= 2
    assert all(len(r.body) <= MAX_BATCH_BYTES + 1024 for r in transport.requests)
    assert [e["properties"]["i"] for e in transport.events()] == list(range(8))


def test_oversized_event_is_dropped_with_an_error(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client, transport = make_client()
    assert client.capture("huge", {"blob": "x" * 1_000_000}) is None
    client.capture("small")
    assert [e["event"] for e in delivered(client, transport)] == ["small"]
    assert any("huge" in m and "limit" in m for m in sdk_warnings(caplog, logging.ERROR))


def test_concurrent_captures_all_arrive(make_client: MakeClient) -> None:
    client, transport = make_client(flush_at=7, flush_interval=0.01)

    def work(n: int) -> None:
        for i in range(50):
            client.capture("c", {"thread": n, "i": i})

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    events = delivered(client, transport)
    assert len(events) == 400
    assert len({e["uuid"] for e in events}) == 400
    for n in range(8):
        assert [e["properties"]["i"] for e in events if e["properties"]["thread"] == n] == list(
            range(50)
        )


# -- never raising into the host app -------------------------------------------------------


def test_a_transport_that_raises_does_not_reach_the_app_or_stop_sending(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client, transport = make_client(RuntimeError("bug in transport"))
    client.capture("lost")
    assert client.flush(timeout=10)
    client.capture("kept")
    assert client.flush(timeout=10)
    assert len(transport.requests) == 2  # a bug is not retried
    assert [e["event"] for e in transport.requests[1].events()] == ["kept"]
    assert client.failed_events == 1
    assert any(r.exc_info for r in caplog.records if r.name == "magpie_sdk")


def test_network_errors_from_the_transport_are_retried(make_client: MakeClient) -> None:
    client, transport = make_client(
        TransportError("timed out"), ConnectionResetError("reset"), sleep=lambda s: None
    )
    client.capture("x")
    client.flush()
    assert len(transport.requests) == 3
    assert client.sent_events == 1


def test_an_unreachable_server_is_retried_then_given_up(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    client = Client(TOKEN, f"http://127.0.0.1:{port}", max_retries=2, sleep=sleeps.append)
    try:
        client.capture("nowhere")
        assert client.flush(timeout=20)
    finally:
        client.shutdown(timeout=5)
    assert len(sleeps) == 2
    assert (client.sent_events, client.failed_events) == (0, 1)
    assert any("giving up on 1 events" in m for m in sdk_warnings(caplog, logging.ERROR))


def test_bad_arguments_are_logged_not_raised(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client, transport = make_client()
    assert client.capture(None) is None  # type: ignore[arg-type]
    assert client.capture("") is None
    assert client.capture("x", properties=[1, 2]) is None  # type: ignore[arg-type]
    client.identify(object())  # type: ignore[arg-type]
    client.identify("user", set="plan=pro")  # type: ignore[arg-type]
    client.group(None, None)  # type: ignore[arg-type]
    client.set_person_properties(set=["a"])  # type: ignore[arg-type]
    client.unset_person_properties(None)  # type: ignore[arg-type]
    client.set_group_properties_for_flags({"company": 1})  # type: ignore[dict-item]
    client.set_person_properties_for_flags("plan")  # type: ignore[arg-type]
    ok_uuid = client.capture("ok", timestamp=object(), uuid="not-a-uuid")  # type: ignore[arg-type]
    [event] = delivered(client, transport)
    assert event["event"] == "ok"
    assert event["uuid"] == ok_uuid and uuid.UUID(ok_uuid).version == 7
    assert datetime.fromisoformat(event["timestamp"]).tzinfo is not None
    assert not client.is_identified()
    assert len(sdk_warnings(caplog)) >= 10


def test_bad_settings_are_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    transport = FakeTransport()
    client = Client(
        "",
        "",
        person_profiles="sometimes",  # type: ignore[arg-type]
        persistence="cloud",  # type: ignore[arg-type]
        transport=transport,
    )
    try:
        assert client.capture("x") is None  # no api key: nothing is sent
        assert client._identity.mode == "identified_only"
        assert client.flush(timeout=10)
        assert transport.requests == []
    finally:
        client.shutdown(timeout=5)
    errors = sdk_warnings(caplog, logging.ERROR)
    assert any("api key" in m for m in errors)
    assert any("person_profiles" in m for m in errors)
    assert any("persistence" in m for m in errors)
    assert any("host" in m for m in errors)


def test_an_internal_failure_is_logged_not_raised(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, transport = make_client()

    def broken() -> tuple[bool, bool]:
        raise KeyError("boom")

    monkeypatch.setattr(client._identity, "stamp_event", broken)
    assert client.capture("x") is None
    client.identify("user-1")
    assert client.flush(timeout=10)
    assert transport.requests == []
    failures = [r for r in caplog.records if r.name == "magpie_sdk" and r.exc_info]
    assert [r.getMessage() for r in failures] == [
        "magpie_sdk: capture() failed",
        "magpie_sdk: identify() failed",
    ]


def test_values_json_cannot_carry_are_converted(make_client: MakeClient) -> None:
    client, transport = make_client()
    cyclic: dict[str, Any] = {"name": "loop"}
    cyclic["self"] = cyclic
    when = datetime(2026, 5, 1, 9, 30, tzinfo=UTC)
    ident = uuid.UUID(int=1)
    client.capture(
        "typed", {"when": when, "id": ident, "price": Decimal("9.5"), "tags": {"a"}, "raw": b"hi"}
    )
    client.capture(
        "odd",
        {
            "nan": float("nan"),
            "inf": float("inf"),
            "cyclic": cyclic,
            (1, 2): "tuple key",
            "obj": object(),
        },
    )
    typed, odd = delivered(client, transport)
    assert typed["properties"]["when"] == "2026-05-01T09:30:00+00:00"
    assert typed["properties"]["id"] == str(ident)
    assert typed["properties"]["price"] == 9.5
    assert typed["properties"]["tags"] == ["a"]
    assert typed["properties"]["raw"] == "hi"
    props = odd["properties"]
    assert props["nan"] is None and props["inf"] is None
    assert props["cyclic"] == {"name": "loop", "self": None}
    assert props["(1, 2)"] == "tuple key"
    assert props["obj"].startswith("<object object")


# -- shutdown and exit ------------------------------------------------------------------------


def test_shutdown_flushes_and_later_events_are_dropped(
    make_client: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client, transport = make_client()
    client.capture("before_shutdown")
    assert client.shutdown(timeout=10)
    assert [e["event"] for e in transport.events()] == ["before_shutdown"]
    assert not client._consumer.is_alive()
    assert client.capture("after_shutdown") is None
    assert client.shutdown() is True  # idempotent
    assert len(transport.requests) == 1
    assert any("shut down" in m for m in sdk_warnings(caplog))


def test_context_manager_shuts_down(make_client: MakeClient) -> None:
    transport = FakeTransport()
    with Client(TOKEN, HOST, transport=transport, flush_interval=3600) as client:
        client.capture("inside")
    assert [e["event"] for e in transport.events()] == ["inside"]


def test_queued_events_are_sent_at_interpreter_exit(tmp_path: Path) -> None:
    out = tmp_path / "sent.jsonl"
    script = textwrap.dedent(
        """
        import sys
        from magpie_sdk import Client, Response

        class FileTransport:
            def post(self, url, body, headers, timeout):
                with open(sys.argv[1], "ab") as handle:
                    handle.write(body + b"\\n")
                return Response(200)

        client = Client("phc_exit", "http://magpie.test", transport=FileTransport(),
                        gzip=False, flush_at=1000, flush_interval=3600)
        client.capture("at_exit", {"n": 1})
        client.capture("at_exit", {"n": 2})
        del client  # dropped without shutdown(): the atexit hook still sends
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(out)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    [line] = out.read_bytes().splitlines()
    payload = json.loads(line)
    assert payload["api_key"] == "phc_exit"
    assert [e["properties"]["n"] for e in payload["batch"]] == [1, 2]
