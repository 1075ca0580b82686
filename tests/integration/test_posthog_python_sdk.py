"""The official posthog-python SDK (pinned in pyproject) against a live Magpie.

Covers what test_posthog_python_capture.py does not: anonymous and identified
events from a server SDK (compat §4.9), identify through ``$identify`` with
``$anon_distinct_id``, set / set_once, alias, groups, gzip, capture v1 with
compression, flush and shutdown, and the feature-flag calls.

Every test goes through the ``sdk`` fixture, which watches the SDK from the
outside without touching the server: it records each HTTP request the SDK
makes (by wrapping ``requests.Session.send``, which every posthog-python
request goes through) and the ``posthog`` logger's records. ``sdk.finish()``
then asserts that the SDK logged nothing at WARNING or above, reported no
error, got a 2xx for every request, sent each event exactly once (no retry)
and talked to Magpie only; and that Magpie recorded no ingestion warning.
"""

from __future__ import annotations

import gzip
import json
import logging
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from posthog import Posthog

from tests.conftest import LiveServer, ReadsFromServer


@dataclass
class SentRequest:
    method: str
    url: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    status: int | None
    error: str | None = None

    def payload(self) -> Any:
        encoding = self.headers.get("content-encoding", "").lower()
        raw = self.body
        if encoding == "gzip":
            raw = gzip.decompress(raw)
        elif encoding == "deflate":
            raw = zlib.decompress(raw)
        return json.loads(raw) if raw else None

    def event_uuids(self) -> list[str]:
        body = self.payload()
        if not isinstance(body, dict) or not isinstance(body.get("batch"), list):
            return []
        return [str(e.get("uuid")) for e in body["batch"]]


@dataclass
class SdkHarness(ReadsFromServer):
    server: LiveServer
    caplog: pytest.LogCaptureFixture
    requests: list[SentRequest] = field(default_factory=list)
    errors: list[object] = field(default_factory=list)
    clients: list[Posthog] = field(default_factory=list)

    def client(self, **options: Any) -> Posthog:
        options.setdefault("host", self.server.url)
        options.setdefault("on_error", lambda error, batch: self.errors.append(error))
        client = Posthog(self.server.token, **options)
        self.clients.append(client)
        return client

    # -- what Magpie stored ---------------------------------------------------

    def events(self, **params: object) -> list[dict[str, Any]]:
        return self.server.events(**params)

    def event(self, name: str) -> dict[str, Any]:
        [found] = self.events(event=name)
        return found

    # -- what the SDK did -----------------------------------------------------

    def sent(self, path: str) -> list[SentRequest]:
        return [r for r in self.requests if r.path == path]

    def shutdown(self) -> None:
        while self.clients:
            self.clients.pop().shutdown()

    def finish(self) -> None:
        """Shut the clients down, then assert the SDK and Magpie had nothing to complain of."""
        self.shutdown()
        noisy = [
            f"{r.levelname} {r.name}: {r.getMessage()}"
            for r in self.caplog.records
            if r.name.split(".")[0] == "posthog" and r.levelno >= logging.WARNING
        ]
        assert noisy == [], "posthog-python logged warnings or errors"
        assert self.errors == [], "posthog-python reported errors through on_error"
        origin = urlsplit(self.server.url).netloc
        assert self.requests, "the SDK sent nothing"
        for sent in self.requests:
            assert urlsplit(sent.url).netloc == origin, f"request outside Magpie: {sent.url}"
            assert sent.error is None, f"{sent.method} {sent.url} failed: {sent.error}"
            # 304: flag definitions polled with If-None-Match, unchanged.
            answered = sent.status is not None and (
                200 <= sent.status < 300 or (sent.status == 304 and sent.method == "GET")
            )
            assert answered, f"{sent.method} {sent.url} answered {sent.status}"
        uuids = [u for sent in self.requests for u in sent.event_uuids()]
        assert len(uuids) == len(set(uuids)), "an event was sent twice (a retry)"
        assert self.ingestion_warnings() == []


@pytest.fixture
def sdk(
    live_server: LiveServer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> Iterator[SdkHarness]:
    caplog.set_level(logging.DEBUG, logger="posthog")
    harness = SdkHarness(live_server, caplog)
    original_send = requests.Session.send

    def recording_send(
        session: requests.Session, request: requests.PreparedRequest, **kwargs: Any
    ) -> requests.Response:
        body = request.body or b""
        parts = urlsplit(request.url or "")
        sent = SentRequest(
            method=request.method or "",
            url=request.url or "",
            path=parts.path,
            query=parts.query,
            headers={k.lower(): v for k, v in request.headers.items()},
            body=body.encode() if isinstance(body, str) else bytes(body),
            status=None,
        )
        harness.requests.append(sent)
        try:
            response = original_send(session, request, **kwargs)
        except Exception as exc:
            sent.error = repr(exc)
            raise
        sent.status = response.status_code
        return response

    monkeypatch.setattr(requests.Session, "send", recording_send)
    yield harness
    harness.shutdown()


def is_uuid4(value: str) -> bool:
    try:
        return uuid.UUID(value).version == 4
    except ValueError:
        return False


# -- anonymous and identified events -------------------------------------------


def test_capture_without_distinct_id_is_personless(sdk: SdkHarness) -> None:
    client = sdk.client()
    client.capture("no_id_event", properties={"n": 1})
    client.capture("no_id_event", properties={"n": 2, "$set": {"dropped": True}})
    client.capture("with_id_event", distinct_id="server-user", properties={"n": 3})
    client.flush()

    anonymous = sdk.events(event="no_id_event")
    assert [e["properties"]["n"] for e in anonymous] == [1, 2]
    first, second = anonymous
    # Each call gets its own random uuid4 distinct id (compat §4.9).
    assert is_uuid4(first["distinct_id"]) and is_uuid4(second["distinct_id"])
    assert first["distinct_id"] != second["distinct_id"]
    for event in anonymous:
        assert event["person_mode"] == "propertyless"
        assert event["properties"]["$process_person_profile"] is False
        assert event["person_id"] == sdk.anonymous_person_id(event["distinct_id"])
        assert "$set" not in event["properties"]
        assert sdk.persons(event["distinct_id"]) == []

    identified = sdk.event("with_id_event")
    assert identified["person_mode"] == "full"
    assert "$process_person_profile" not in identified["properties"]
    person = sdk.person("server-user")
    assert person["distinct_ids"] == ["server-user"]
    assert person["is_identified"] is False
    assert identified["person_id"] == person["uuid"]
    assert [p["distinct_ids"] for p in sdk.persons()] == [["server-user"]]

    batches = sdk.sent("/batch/")
    for batch in batches:
        assert batch.method == "POST"
        assert batch.headers["content-type"] == "application/json"
        assert batch.headers["user-agent"].startswith("posthog-python/")
        assert "content-encoding" not in batch.headers
        assert batch.payload()["api_key"] == sdk.server.token
    assert sum(len(batch.event_uuids()) for batch in batches) == 3
    sdk.finish()


@pytest.mark.parametrize("use_gzip", [False, True], ids=["plain", "gzip"])
def test_anonymous_then_identified(sdk: SdkHarness, use_gzip: bool) -> None:
    """The seed document's story, told by a server SDK: anonymous events stay
    anonymous after identify, yet belong to the person; later events are identified."""
    client = sdk.client(gzip=use_gzip)
    anon, user = "visitor-7", "user-7"
    for page in ("/", "/pricing"):
        client.capture(
            "$pageview",
            distinct_id=anon,
            properties={
                "$process_person_profile": False,
                "$current_url": f"https://shop.example{page}",
                "$set": {"should_not_stick": True},
            },
        )
    client.flush()
    assert sdk.persons() == []

    client.capture(
        "$identify",
        distinct_id=user,
        properties={
            "$anon_distinct_id": anon,
            "$set": {"email": "seven@example.com", "plan": "free"},
            "$set_once": {"signup_source": "ads"},
        },
    )
    client.capture("purchase", distinct_id=user, properties={"amount": 42})
    client.flush()

    person = sdk.person(user)
    assert sorted(person["distinct_ids"]) == sorted([anon, user])
    assert person["is_identified"] is True
    assert person["properties"]["email"] == "seven@example.com"
    assert person["properties"]["plan"] == "free"
    assert person["properties"]["signup_source"] == "ads"
    assert "should_not_stick" not in person["properties"]
    assert sdk.person(anon)["uuid"] == person["uuid"]
    assert len(sdk.persons()) == 1

    pageviews = sdk.events(event="$pageview")
    assert len(pageviews) == 2
    for event in pageviews:
        # Past events are attributed to the person but otherwise unchanged.
        assert event["person_mode"] == "propertyless"
        assert event["person_id"] == person["uuid"]
        assert event["distinct_id"] == anon
    for name in ("$identify", "purchase"):
        event = sdk.event(name)
        assert event["person_mode"] == "full"
        assert event["person_id"] == person["uuid"]
    assert sdk.event("purchase")["properties"]["amount"] == 42
    assert [e["person_id"] for e in sdk.events(person_id=person["uuid"])] == [person["uuid"]] * 4

    batches = sdk.sent("/batch/")
    assert len(batches) >= 2  # one flush per phase at least
    for batch in batches:
        assert batch.headers.get("content-encoding") == ("gzip" if use_gzip else None)
        if use_gzip:
            assert batch.body[:2] == b"\x1f\x8b"
    sdk.finish()


def test_set_and_set_once(sdk: SdkHarness) -> None:
    client = sdk.client()
    client.set(distinct_id="settler", properties={"plan": "free", "name": "Ada"})
    client.set_once(distinct_id="settler", properties={"plan": "pro", "first_seen": "monday"})
    client.set(distinct_id="settler", properties={"plan": "pro"})
    client.set_once(distinct_id="settler", properties={"first_seen": "tuesday"})
    # Without a distinct id, or with nothing to set, these are no-ops in the SDK.
    client.set(properties={"ignored": True})
    client.set_once(distinct_id="settler", properties={})
    client.flush()

    person = sdk.person("settler")
    assert person["properties"]["plan"] == "pro"
    assert person["properties"]["name"] == "Ada"
    assert person["properties"]["first_seen"] == "monday"
    assert "ignored" not in person["properties"]
    assert person["is_identified"] is False  # $set alone does not identify (compat §3.4)
    events = sdk.events()
    assert [e["event"] for e in events] == ["$set", "$set_once", "$set", "$set_once"]
    assert {e["person_mode"] for e in events} == {"full"}
    assert {e["person_id"] for e in events} == {person["uuid"]}
    sdk.finish()


def test_alias(sdk: SdkHarness) -> None:
    client = sdk.client()
    client.capture("browsed", distinct_id="cookie-abc")
    client.flush()
    client.alias(previous_id="cookie-abc", distinct_id="account-1")
    client.capture("logged_in", distinct_id="account-1")
    client.flush()

    alias_event = sdk.event("$create_alias")
    assert alias_event["distinct_id"] == "cookie-abc"
    assert alias_event["properties"]["alias"] == "account-1"
    person = sdk.person("account-1")
    assert sorted(person["distinct_ids"]) == ["account-1", "cookie-abc"]
    assert person["is_identified"] is True
    assert len(sdk.persons()) == 1
    for name in ("browsed", "$create_alias", "logged_in"):
        assert sdk.event(name)["person_id"] == person["uuid"]
        assert sdk.event(name)["person_mode"] == "full"
    sdk.finish()


def test_groups(sdk: SdkHarness) -> None:
    client = sdk.client()
    client.group_identify(
        "company", "acme", {"name": "Acme", "employees": 11}, distinct_id="member-1"
    )
    client.group_identify("project", 42, {"name": "Rocket"}, distinct_id="member-1")
    client.capture(
        "report_viewed", distinct_id="member-1", groups={"company": "acme", "project": 42}
    )
    client.capture("report_viewed_anonymously", groups={"company": "acme"})
    client.flush()

    company, project = sdk.events(event="$groupidentify")
    assert company["properties"]["$group_type"] == "company"
    assert company["properties"]["$group_key"] == "acme"
    assert company["properties"]["$group_set"] == {"name": "Acme", "employees": 11}
    assert project["properties"]["$group_type"] == "project"

    viewed = sdk.event("report_viewed")
    assert viewed["person_mode"] == "full"
    assert viewed["properties"]["$groups"] == {"company": "acme", "project": 42}
    assert viewed["properties"]["$group_0"] == "acme"
    assert viewed["properties"]["$group_1"] == "42"

    # Group analytics does not work on anonymous events (compat §2.3).
    anonymous = sdk.event("report_viewed_anonymously")
    assert anonymous["person_mode"] == "propertyless"
    assert "$group_0" not in anonymous["properties"]
    # $groupidentify never changes person properties.
    assert sdk.person("member-1")["properties"].get("name") is None
    sdk.finish()


# -- transport -----------------------------------------------------------------


def test_sync_mode_sends_each_call_at_once(sdk: SdkHarness) -> None:
    client = sdk.client(sync_mode=True)
    client.capture("sync_event", distinct_id="sync-user", properties={"i": 1})
    assert len(sdk.sent("/batch/")) == 1
    assert [e["properties"]["i"] for e in sdk.events(event="sync_event")] == [1]
    client.set(distinct_id="sync-user", properties={"k": "v"})
    assert len(sdk.sent("/batch/")) == 2
    assert sdk.person("sync-user")["properties"]["k"] == "v"
    sdk.finish()


def test_flush_and_shutdown_deliver_everything_once(sdk: SdkHarness) -> None:
    client = sdk.client(flush_at=10, flush_interval=30)
    for i in range(25):
        client.capture("queued", distinct_id=f"q-{i % 4}", properties={"i": i})
    client.flush()
    assert sorted(e["properties"]["i"] for e in sdk.events(event="queued")) == list(range(25))
    for i in range(25, 32):
        client.capture("queued", distinct_id=f"q-{i % 4}", properties={"i": i})
    client.shutdown()  # shutdown flushes what is still queued
    assert sorted(e["properties"]["i"] for e in sdk.events(event="queued")) == list(range(32))
    batches = sdk.sent("/batch/")
    assert all(len(b.event_uuids()) <= 10 for b in batches)
    assert sum(len(b.event_uuids()) for b in batches) == 32
    sdk.finish()


@pytest.mark.parametrize("compression", ["none", "gzip", "deflate"])
def test_capture_v1_identity_flow(sdk: SdkHarness, compression: str) -> None:
    client = sdk.client(capture_mode="v1", capture_compression=compression)
    client.capture(
        "v1_anon", distinct_id="v1-visitor", properties={"$process_person_profile": False}
    )
    client.capture("v1_no_id")
    client.capture(
        "$identify",
        distinct_id="v1-user",
        properties={"$anon_distinct_id": "v1-visitor", "$set": {"tier": "gold"}},
    )
    client.set_once(distinct_id="v1-user", properties={"first": "v1"})
    client.capture("v1_after", distinct_id="v1-user", groups={"company": "acme"})
    client.flush()

    person = sdk.person("v1-user")
    assert sorted(person["distinct_ids"]) == ["v1-user", "v1-visitor"]
    assert person["is_identified"] is True
    assert person["properties"]["tier"] == "gold"
    assert person["properties"]["first"] == "v1"
    anon = sdk.event("v1_anon")
    assert (anon["person_mode"], anon["person_id"]) == ("propertyless", person["uuid"])
    no_id = sdk.event("v1_no_id")
    assert no_id["person_mode"] == "propertyless" and is_uuid4(no_id["distinct_id"])
    after = sdk.event("v1_after")
    assert (after["person_mode"], after["person_id"]) == ("full", person["uuid"])
    assert after["properties"]["$group_0"] == "acme"
    assert after["properties"]["$lib"] == "posthog-python"

    assert sdk.sent("/batch/") == []
    posts = sdk.sent("/i/v1/analytics/events")
    assert posts and all(p.method == "POST" for p in posts)
    for post in posts:
        assert post.headers["authorization"] == f"Bearer {sdk.server.token}"
        expected = None if compression == "none" else compression
        assert post.headers.get("content-encoding") == expected
    assert sum(len(p.event_uuids()) for p in posts) == 5
    sdk.finish()


# -- feature flags ---------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:`.*` is deprecated:DeprecationWarning")
def test_feature_flag_calls_answer_cleanly(sdk: SdkHarness) -> None:
    """Magpie has no flag definitions yet: /flags?v=4 answers with no flags, cleanly."""
    client = sdk.client()
    assert client.get_feature_flag("new-checkout", "flag-user") is None
    assert not client.feature_enabled("new-checkout", "flag-user")
    assert client.get_feature_flag_payload("new-checkout", "flag-user") is None
    assert client.get_all_flags("flag-user") == {}
    assert client.get_all_flags_and_payloads("flag-user") == {
        "featureFlags": {},
        "featureFlagPayloads": {},
    }
    assert client.get_feature_flag("grouped", "flag-user", groups={"company": "acme"}) is None
    snapshot = client.evaluate_flags("flag-user", groups={"company": "acme"})
    assert snapshot.keys == [] and snapshot.is_enabled("new-checkout") is False
    client.capture("with_snapshot", distinct_id="flag-user", flags=snapshot)
    client.capture("with_flags", distinct_id="flag-user", send_feature_flags=True)
    client.flush()

    flag_calls = sdk.sent("/flags/")
    assert len(flag_calls) >= 6
    for call in flag_calls:
        assert (call.method, call.query) == ("POST", "v=4")
        body = call.payload()
        assert body["api_key"] == sdk.server.token and body["distinct_id"] == "flag-user"
    assert not [r for r in sdk.requests if "decide" in r.path]

    for name in ("with_snapshot", "with_flags"):
        properties = sdk.event(name)["properties"]
        assert not [k for k in properties if k.startswith("$feature/")]
        assert properties.get("$active_feature_flags", []) == []
    # One deduplicated $feature_flag_called per (flag, value) (compat §6.5).
    called = sdk.events(event="$feature_flag_called")
    assert {e["properties"]["$feature_flag"] for e in called} == {"new-checkout", "grouped"}
    for event in called:
        assert event["distinct_id"] == "flag-user"
        assert event["properties"]["$feature_flag_response"] is None
    sdk.finish()
