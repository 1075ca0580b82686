"""Magpie's Python SDK (sdk/python) against a live Magpie server.

What the seed document promises about anonymous and identified events, checked
end to end: the SDK's state machine decides ``$process_person_profile`` and the
server stores ``person_mode`` and builds (or does not build) persons from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from magpie_sdk import Client

from tests.conftest import LiveServer

MakeClient = Callable[..., Client]


@pytest.fixture
def sdk(live_server: LiveServer) -> Iterator[MakeClient]:
    clients: list[Client] = []

    def make(**options: Any) -> Client:
        options.setdefault("flush_interval", 0.05)
        client = Client(live_server.token, live_server.url, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.shutdown(timeout=10)


def send(client: Client) -> None:
    assert client.flush(timeout=20), "flush() timed out"
    assert client.failed_events == 0, "the server refused or never took a batch"


def persons(live: LiveServer, distinct_id: str) -> list[dict[str, Any]]:
    live.settle()
    with live.api() as api:
        response = api.get(
            f"/api/projects/{live.project_id}/persons/", params={"distinct_id": distinct_id}
        )
    response.raise_for_status()
    return list(response.json()["results"])


def person(live: LiveServer, distinct_id: str) -> dict[str, Any]:
    [found] = persons(live, distinct_id)
    return found


def ingestion_warnings(live: LiveServer) -> list[dict[str, Any]]:
    live.settle()
    with live.api() as api:
        response = api.get(f"/api/projects/{live.project_id}/ingestion_warnings/")
    response.raise_for_status()
    return list(response.json()["results"])


def test_identified_only_events_are_anonymous_until_identify(
    live_server: LiveServer, sdk: MakeClient
) -> None:
    client = sdk()
    anonymous_id = client.get_distinct_id()
    client.capture("browsed", {"page": 1})
    client.capture("browsed", {"page": 2})
    send(client)

    before = live_server.events(event="browsed")
    assert [e["properties"]["page"] for e in before] == [1, 2]
    assert {e["person_mode"] for e in before} == {"propertyless"}
    assert {e["distinct_id"] for e in before} == {anonymous_id}
    assert before[0]["properties"]["$lib"] == "magpie-python"
    assert before[0]["properties"]["$device_id"] == anonymous_id
    assert persons(live_server, anonymous_id) == []  # no person for anonymous users

    client.identify("user-42", set={"email": "ada@example.com"}, set_once={"first_app": "cli"})
    client.capture("purchased", {"amount": 12})
    send(client)

    [purchased] = live_server.events(event="purchased")
    assert purchased["person_mode"] == "full"
    assert purchased["distinct_id"] == "user-42"
    assert purchased["properties"]["$is_identified"] is True
    [identify] = live_server.events(event="$identify")
    assert identify["properties"]["$anon_distinct_id"] == anonymous_id

    found = person(live_server, "user-42")
    assert found["is_identified"] is True
    assert set(found["distinct_ids"]) == {anonymous_id, "user-42"}
    assert found["properties"]["email"] == "ada@example.com"
    assert found["properties"]["first_app"] == "cli"
    assert person(live_server, anonymous_id)["uuid"] == found["uuid"]
    assert purchased["person_id"] == found["uuid"]
    # Past events are attributed to the person but otherwise unchanged.
    before_again = live_server.events(event="browsed")
    assert {e["person_mode"] for e in before_again} == {"propertyless"}
    assert {e["person_id"] for e in before_again} == {found["uuid"]}
    assert ingestion_warnings(live_server) == []


def test_reset_makes_later_events_anonymous_under_a_new_id(
    live_server: LiveServer, sdk: MakeClient
) -> None:
    client = sdk()
    device_id = client.get_device_id()
    client.identify("user-7")
    client.capture("while_identified")
    send(client)
    client.reset()
    new_id = client.get_distinct_id()
    client.capture("after_reset")
    send(client)

    assert new_id not in ("user-7", device_id)
    assert client.get_device_id() == device_id
    [identified] = live_server.events(event="while_identified")
    [after] = live_server.events(event="after_reset")
    assert identified["person_mode"] == "full"
    assert after["person_mode"] == "propertyless"
    assert after["distinct_id"] == new_id
    assert after["properties"]["$is_identified"] is False
    assert after["person_id"] != identified["person_id"]
    assert persons(live_server, new_id) == []
    assert new_id not in person(live_server, "user-7")["distinct_ids"]


def test_always_makes_every_event_identified(live_server: LiveServer, sdk: MakeClient) -> None:
    client = sdk(person_profiles="always")
    anonymous_id = client.get_distinct_id()
    client.capture("first")
    client.capture("second")
    send(client)
    events = live_server.events()
    assert [e["event"] for e in events] == ["first", "second"]
    assert {e["person_mode"] for e in events} == {"full"}
    found = person(live_server, anonymous_id)
    assert found["is_identified"] is False  # a person profile, but nobody identified it
    assert {e["person_id"] for e in events} == {found["uuid"]}


def test_never_creates_no_person_and_ignores_identifying_calls(
    live_server: LiveServer, sdk: MakeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client = sdk(person_profiles="never")
    anonymous_id = client.get_distinct_id()
    client.capture("one")
    client.identify("user-never", set={"email": "x@example.com"})
    client.alias("alias-never")
    client.group("company", "acme", {"name": "Acme"})
    client.set_person_properties(set={"plan": "pro"})
    client.create_person_profile()
    client.capture("two")
    send(client)

    events = live_server.events()
    assert [e["event"] for e in events] == ["one", "two"]
    assert {e["person_mode"] for e in events} == {"propertyless"}
    assert {e["distinct_id"] for e in events} == {anonymous_id}
    for distinct_id in (anonymous_id, "user-never", "alias-never"):
        assert persons(live_server, distinct_id) == []
    warned = [r.getMessage() for r in caplog.records if r.name == "magpie_sdk"]
    for call in ("identify", "alias", "group", "set_person_properties", "create_person_profile"):
        assert any(m.startswith(f"{call}() ignored") for m in warned), call


def test_alias_joins_the_alias_to_the_user(live_server: LiveServer, sdk: MakeClient) -> None:
    client = sdk()
    anonymous_id = client.get_distinct_id()
    client.capture("anonymous_step")
    client.alias("crm-1001")
    client.capture("after_alias")
    send(client)

    [after] = live_server.events(event="after_alias")
    assert after["person_mode"] == "full"
    assert after["distinct_id"] == anonymous_id
    found = person(live_server, "crm-1001")
    assert set(found["distinct_ids"]) == {anonymous_id, "crm-1001"}
    assert found["is_identified"] is True  # a join marks the person identified (compat §3.4)
    assert after["person_id"] == found["uuid"]
    [step] = live_server.events(event="anonymous_step")
    assert step["person_mode"] == "propertyless"
    assert step["person_id"] == found["uuid"]


def test_group_sets_the_group_column_on_later_events(
    live_server: LiveServer, sdk: MakeClient
) -> None:
    client = sdk()
    client.identify("user-g")
    client.capture("before_group")
    client.group("company", "acme", {"name": "Acme"})
    client.capture("in_group")
    client.group("company", "acme")  # unchanged: no second $groupidentify
    send(client)

    [before] = live_server.events(event="before_group")
    [in_group] = live_server.events(event="in_group")
    assert "$group_0" not in before["properties"]
    assert in_group["properties"]["$groups"] == {"company": "acme"}
    assert in_group["properties"]["$group_0"] == "acme"
    assert in_group["person_mode"] == "full"
    assert len(live_server.events(event="$groupidentify")) == 1


def test_group_alone_makes_an_anonymous_user_personful(
    live_server: LiveServer, sdk: MakeClient
) -> None:
    client = sdk()
    anonymous_id = client.get_distinct_id()
    client.capture("before")
    client.group("team", "t-1")
    client.capture("after")
    send(client)
    [before] = live_server.events(event="before")
    [after] = live_server.events(event="after")
    assert before["person_mode"] == "propertyless"
    assert after["person_mode"] == "full"
    assert after["properties"]["$group_0"] == "t-1"
    assert person(live_server, anonymous_id)["is_identified"] is False


def test_person_properties_show_on_the_person(live_server: LiveServer, sdk: MakeClient) -> None:
    client = sdk()
    anonymous_id = client.get_distinct_id()
    client.set_person_properties(set={"plan": "pro", "seats": 3}, set_once={"signup": "2026-05"})
    client.set_person_properties(set_once={"signup": "later"})
    send(client)
    found = person(live_server, anonymous_id)
    assert found["properties"]["plan"] == "pro"
    assert found["properties"]["seats"] == 3
    assert found["properties"]["signup"] == "2026-05"
    assert found["is_identified"] is False

    client.unset_person_properties(["seats"])
    client.capture("after")
    send(client)
    assert "seats" not in person(live_server, anonymous_id)["properties"]
    [after] = live_server.events(event="after")
    assert after["person_mode"] == "full"


def test_create_person_profile_creates_the_person(live_server: LiveServer, sdk: MakeClient) -> None:
    client = sdk()
    anonymous_id = client.get_distinct_id()
    client.capture("before")
    send(client)
    assert persons(live_server, anonymous_id) == []
    client.create_person_profile()
    client.create_person_profile()
    client.capture("after")
    send(client)
    assert len(live_server.events(event="$set")) == 1
    [after] = live_server.events(event="after")
    assert after["person_mode"] == "full"
    assert after["person_id"] == person(live_server, anonymous_id)["uuid"]


def test_identify_as_someone_else_while_identified_does_not_merge(
    live_server: LiveServer, sdk: MakeClient
) -> None:
    client = sdk()
    client.identify("user-a")
    client.identify("user-b")  # no reset(): the id switches, nothing is merged
    client.capture("as_b")
    send(client)
    assert [e["event"] for e in live_server.events(event="$identify")] == ["$identify"]
    a, b = person(live_server, "user-a"), person(live_server, "user-b")
    assert a["uuid"] != b["uuid"]
    assert "user-b" not in a["distinct_ids"]
    assert b["is_identified"] is False


def test_file_persistence_keeps_the_user_across_a_restart(
    live_server: LiveServer, sdk: MakeClient, tmp_path: Path
) -> None:
    path = tmp_path / "magpie-state.json"
    first = sdk(persistence="file", persistence_path=path)
    anonymous_id = first.get_distinct_id()
    first.capture("first_run")
    first.identify("user-p")
    first.group("company", "acme")
    first.shutdown()

    second = sdk(persistence="file", persistence_path=path)  # the app restarted
    assert second.get_distinct_id() == "user-p"
    assert second.get_device_id() == anonymous_id
    second.capture("second_run")
    send(second)

    [first_run] = live_server.events(event="first_run")
    [second_run] = live_server.events(event="second_run")
    assert first_run["person_mode"] == "propertyless"
    assert second_run["person_mode"] == "full"
    assert second_run["distinct_id"] == "user-p"
    assert second_run["properties"]["$is_identified"] is True
    assert second_run["properties"]["$group_0"] == "acme"
    user = person(live_server, "user-p")
    assert second_run["person_id"] == first_run["person_id"] == user["uuid"]


def test_plain_json_without_gzip(live_server: LiveServer, sdk: MakeClient) -> None:
    client = sdk(gzip=False)
    client.capture("plain", {"k": "v"})
    send(client)
    [event] = live_server.events(event="plain")
    assert event["properties"]["k"] == "v"


def test_an_unknown_project_token_is_refused_without_retries(
    live_server: LiveServer, caplog: pytest.LogCaptureFixture
) -> None:
    sleeps: list[float] = []
    client = Client("phc_no_such_project", live_server.url, sleep=sleeps.append)
    try:
        client.capture("lost")
        assert client.flush(timeout=20)
    finally:
        client.shutdown(timeout=10)
    assert (client.sent_events, client.failed_events) == (0, 1)
    assert sleeps == []
    refused = [r.getMessage() for r in caplog.records if r.name == "magpie_sdk"]
    assert any("HTTP 403" in m and "ingest_key_unknown" in m for m in refused)
    assert live_server.events() == []
