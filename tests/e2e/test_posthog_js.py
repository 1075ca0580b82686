"""The official posthog-js (pinned in tests/e2e/package-lock.json), in headless
Debian Chromium, against a live Magpie: what the seed document says about
anonymous and identified events holds end to end.

Each test gets a fresh Magpie (``live_server``) and a fresh browser context; the
browser is shared by the module. A local site on 127.0.0.1 serves the page and
posthog-js's ``dist/array.js``; the page inits posthog with ``api_host`` =
Magpie. ``ph.finish()`` asserts what the page saw: no console error (posthog
runs with ``debug: true`` so its own errors reach the console) and no posthog
warning, no page error, no failed, 4xx/5xx or retried request to Magpie, no
event sent twice, only the paths Magpie serves, and no ingestion warning.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer, ReadsFromServer
from tests.e2e.browser import (
    CAPTURE_PATHS,
    CHROMIUM_ARGS,
    POSTHOG_DIST,
    SETUP_HINT,
    SKIP_ENV,
    Site,
    Watch,
    chromium_path,
    has_events,
    pinned_posthog_js_version,
    posthog_js_version,
    site_server,
    skip_requested,
    wait_for_events,
)

# Fast, observable defaults for the tests; each test may override them.
BASE_OPTIONS: dict[str, Any] = {
    # posthog-js drops every event from headless Chromium without this (compat §10).
    "opt_out_useragent_filter": True,
    # posthog's logger prints its errors only in debug mode; the tests read them.
    "debug": True,
    # Batching on (the default), flushed every 250 ms instead of every 3 s.
    "request_queue_config": {"flush_interval_ms": 250},
}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if skip_requested():
        pytest.skip(f"{SKIP_ENV} is set")
    missing = []
    if chromium_path() is None:
        missing.append("chromium is not on PATH")
    if not (POSTHOG_DIST / "array.js").is_file():
        missing.append("posthog-js is not installed in tests/e2e/node_modules")
    elif posthog_js_version() != pinned_posthog_js_version():
        missing.append(
            f"tests/e2e/node_modules has posthog-js {posthog_js_version()}, "
            f"the lock file pins {pinned_posthog_js_version()}"
        )
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package is not installed (pip install -e '.[test]')")
    if missing:
        pytest.fail(
            "browser tests cannot run: " + "; ".join(missing) + ". To fix: " + SETUP_HINT,
            pytrace=False,
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's Chromium, never a browser build downloaded by Playwright.
        chromium = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def site() -> Iterator[Site]:
    with site_server() as served:
        yield served


class PosthogPage(ReadsFromServer):
    """One browser context with the test page, posthog-js pointed at Magpie."""

    def __init__(self, browser: Any, site: Site, server: LiveServer) -> None:
        self.site = site
        self.server = server
        self.context = browser.new_context()
        self.page = self.context.new_page()
        self.watch = Watch(server.url)
        self.watch.attach(self.page)

    # -- the browser side ------------------------------------------------------

    def open(self, path: str = "/", **options: Any) -> None:
        setup = {
            "token": self.server.token,
            "options": {"api_host": self.server.url, **BASE_OPTIONS, **options},
        }
        self.context.add_init_script(script=f"window.__MAGPIE_E2E__ = {_js(setup)};")
        self.page.goto(self.site.url + path)
        self.wait_loaded()

    def wait_loaded(self) -> None:
        self.page.wait_for_function("window.__posthogLoaded === true")

    def js(self, expression: str) -> Any:
        return self.page.evaluate(expression)

    def distinct_id(self) -> str:
        return str(self.js("posthog.get_distinct_id()"))

    def capture(self, event: str, properties: dict[str, Any] | None = None) -> None:
        self.js(f"posthog.capture({_js(event)}, {_js(properties or {})})")

    def follow(self, selector: str, *, reinit: bool) -> None:
        """Click a link; the old page's unload sends $pageleave by sendBeacon."""
        self.watch.wait_idle(self.page)
        with self.page.expect_navigation():
            self.page.click(selector)
        if reinit:
            self.wait_loaded()

    # -- what Magpie stored ------------------------------------------------------

    def wait(self, *names: str, timeout: float = 30.0) -> list[dict[str, Any]]:
        """Wait until Magpie stored these events (at least), and return all of them.
        Generous: on a loaded machine a page's unload beacon can take seconds."""
        return wait_for_events(self.server, has_events(*names), timeout, f"{list(names)}")

    # -- the verdict ---------------------------------------------------------------

    def finish(self, allowed_console: Callable[[str, str], bool] | None = None) -> None:
        if not self.page.is_closed():
            self.watch.wait_idle(self.page)
        # Keepalive fetches the page saw aborted may still be on their way to Magpie.
        outliving = {
            str(event.get("uuid"))
            for request in self.watch.requests
            if request.failure == "net::ERR_ABORTED" and request.path in CAPTURE_PATHS
            for event in request.events()
        }
        with contextlib.suppress(AssertionError):  # what never arrives is reported below
            wait_for_events(
                self.server, lambda events: outliving <= {e["uuid"] for e in events}, 10.0
            )
        stored = {e["uuid"] for e in self.server.events()}
        assert self.watch.problems(stored, allowed_console) == []
        allowed_paths = {
            f"/array/{self.server.token}/config.js",
            f"/array/{self.server.token}/config",
            "/e/",
            "/i/v0/e/",
            "/flags/",
        }
        assert set(self.watch.paths()) <= allowed_paths, "posthog-js asked Magpie for more"
        for request in self.watch.requests:
            if request.path == "/flags/":
                assert request.query.get("v") == ["2"]
        assert self.ingestion_warnings() == []

    def close(self) -> None:
        self.context.close()


def _js(value: Any) -> str:
    """A Python value as a JavaScript literal."""
    return json.dumps(value)


@pytest.fixture
def ph(browser: Any, site: Site, live_server: LiveServer) -> Iterator[PosthogPage]:
    page = PosthogPage(browser, site, live_server)
    yield page
    page.close()


def by_name(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == name]


def one(events: list[dict[str, Any]], name: str) -> dict[str, Any]:
    [found] = by_name(events, name)
    return found


# -- identified_only (the default) -----------------------------------------------


def test_anonymous_pageview_and_custom_event(ph: PosthogPage) -> None:
    ph.open()
    # Let the remote config arrive first: it moves capture to the endpoint it names.
    ph.watch.wait_for_path(ph.page, f"/array/{ph.server.token}/config.js")
    ph.watch.wait_idle(ph.page)
    ph.capture("cta_clicked", {"button": "signup"})
    events = ph.wait("$pageview", "cta_clicked")
    anon = ph.distinct_id()
    assert uuid.UUID(anon).version == 7  # posthog-js's anonymous id is a UUIDv7

    for name in ("$pageview", "cta_clicked"):
        event = one(events, name)
        assert event["distinct_id"] == anon
        assert event["person_mode"] == "propertyless"
        assert event["person_id"] == ph.anonymous_person_id(anon)
        assert event["properties"]["$process_person_profile"] is False
        assert event["properties"]["$is_identified"] is False
        assert event["properties"]["$lib"] == "web"
        assert uuid.UUID(event["uuid"]).version == 7
    assert one(events, "cta_clicked")["properties"]["button"] == "signup"
    assert one(events, "$pageview")["properties"]["$current_url"] == ph.site.url + "/"
    assert ph.persons() == []
    assert "/posthog-js/array.js" in ph.site.served  # the npm package's bundle

    # The real wire: gzip bytes as text/plain, no compression hint, a batch body.
    ph.watch.wait_idle(ph.page)
    captures = ph.watch.captures()
    assert captures
    for request in captures:
        assert request.method == "POST"
        assert request.content_type.startswith("text/plain")
        assert request.body[:2] == b"\x1f\x8b"
        assert "compression" not in request.query
        payload = request.payload()
        assert payload["api_key"] == ph.server.token and payload["sent_at"]
        for event in payload["batch"]:
            assert "distinct_id" not in event  # it travels in properties
            assert event["properties"]["token"] == ph.server.token
    # The remote config says hasFeatureFlags: false, so nothing asks /flags yet.
    assert "/flags/" not in ph.watch.paths()
    # Before the remote config, posthog-js posts to /e/; after it, to the endpoint it names.
    assert {r.path for r in captures} <= {"/e/", "/i/v0/e/"}
    [cta_request] = [r for r in captures if "cta_clicked" in {e["event"] for e in r.events()}]
    assert cta_request.path == "/i/v0/e/"
    ph.finish()


def test_identify_attributes_past_events_to_the_person(ph: PosthogPage) -> None:
    """The seed document's story: a person exists only after identify; earlier
    events stay anonymous yet belong to the person; later events are identified."""
    ph.open()
    ph.capture("browsed_catalog")
    ph.wait("$pageview", "browsed_catalog")
    anon = ph.distinct_id()
    assert ph.persons() == []

    ph.js("posthog.identify('user-42', {email: 'ada@example.com'}, {first_seen_on: 'landing'})")
    assert ph.distinct_id() == "user-42"
    ph.capture("added_to_cart", {"sku": "A-1"})
    ph.follow("#next", reinit=True)  # a second page: $pageleave, then $pageview
    assert ph.distinct_id() == "user-42"  # persisted across page loads
    events = ph.wait("$identify", "added_to_cart", "$pageleave", "$pageview", "$pageview")

    person = ph.person("user-42")
    assert sorted(person["distinct_ids"]) == sorted([anon, "user-42"])
    assert person["is_identified"] is True
    assert person["properties"]["email"] == "ada@example.com"
    assert person["properties"]["first_seen_on"] == "landing"
    assert person["properties"]["$initial_current_url"] == ph.site.url + "/"
    assert len(ph.persons()) == 1

    first_pageview, second_pageview = by_name(events, "$pageview")
    before = [first_pageview, one(events, "browsed_catalog")]
    after = [
        one(events, "$identify"),
        one(events, "added_to_cart"),
        one(events, "$pageleave"),
        second_pageview,
    ]
    for event in before:
        assert event["distinct_id"] == anon
        assert event["person_mode"] == "propertyless"
        assert event["person_id"] == person["uuid"]
        assert "$set" not in event["properties"]
    for event in after:
        assert event["distinct_id"] == "user-42"
        assert event["person_mode"] == "full"
        assert event["person_id"] == person["uuid"]
        assert event["properties"]["$is_identified"] is True
    assert one(events, "$identify")["properties"]["$anon_distinct_id"] == anon
    # identify reloads flags, for experience continuity with the anonymous id.
    flags = [r.payload() for r in ph.watch.requests if r.path == "/flags/"]
    assert any(
        f["distinct_id"] == "user-42" and f.get("$anon_distinct_id") == anon for f in flags
    ), flags
    for body in flags:
        assert body["token"] == ph.server.token
    assert second_pageview["properties"]["$current_url"] == ph.site.url + "/next.html"
    ph.finish()


def test_set_person_properties_creates_the_profile(ph: PosthogPage) -> None:
    ph.open()
    ph.wait("$pageview")
    anon = ph.distinct_id()
    assert ph.persons() == []

    ph.js("posthog.setPersonProperties({plan: 'pro'}, {signup_plan: 'trial'})")
    ph.capture("upgraded")
    events = ph.wait("$set", "upgraded")

    person = ph.person(anon)
    assert person["distinct_ids"] == [anon]
    assert person["properties"]["plan"] == "pro"
    assert person["properties"]["signup_plan"] == "trial"
    assert person["is_identified"] is False  # properties, but no identify
    assert one(events, "$pageview")["person_mode"] == "propertyless"
    assert one(events, "$pageview")["person_id"] == person["uuid"]
    for name in ("$set", "upgraded"):
        assert one(events, name)["person_mode"] == "full"
        assert one(events, name)["person_id"] == person["uuid"]
    ph.finish()


def test_group_makes_events_identified(ph: PosthogPage) -> None:
    ph.open()
    ph.wait("$pageview")
    anon = ph.distinct_id()

    ph.js("posthog.group('company', 'acme', {name: 'Acme Inc.'})")
    ph.capture("report_viewed")
    events = ph.wait("$groupidentify", "report_viewed")

    group_identify = one(events, "$groupidentify")
    assert group_identify["properties"]["$group_type"] == "company"
    assert group_identify["properties"]["$group_key"] == "acme"
    assert group_identify["properties"]["$group_set"] == {"name": "Acme Inc."}
    viewed = one(events, "report_viewed")
    assert viewed["person_mode"] == "full"
    assert viewed["properties"]["$groups"] == {"company": "acme"}
    assert viewed["properties"]["$group_0"] == "acme"
    pageview = one(events, "$pageview")
    assert pageview["person_mode"] == "propertyless"
    assert "$group_0" not in pageview["properties"]
    person = ph.person(anon)
    assert viewed["person_id"] == pageview["person_id"] == person["uuid"]
    assert "name" not in person["properties"]  # group properties are not person properties
    ph.finish()


def test_alias(ph: PosthogPage) -> None:
    ph.open()
    ph.wait("$pageview")
    anon = ph.distinct_id()

    ph.js("posthog.alias('crm-7')")
    ph.capture("after_alias")
    events = ph.wait("$create_alias", "after_alias")

    alias = one(events, "$create_alias")
    assert alias["properties"]["alias"] == "crm-7"
    assert alias["distinct_id"] == anon
    person = ph.person("crm-7")
    assert sorted(person["distinct_ids"]) == sorted([anon, "crm-7"])
    assert person["is_identified"] is True
    after = one(events, "after_alias")
    assert (after["distinct_id"], after["person_mode"]) == (anon, "full")
    assert after["person_id"] == person["uuid"]
    pageview = one(events, "$pageview")
    assert (pageview["person_mode"], pageview["person_id"]) == ("propertyless", person["uuid"])
    ph.finish()


def test_reset_makes_events_anonymous_again(ph: PosthogPage) -> None:
    ph.open()
    ph.wait("$pageview")
    first_anon = ph.distinct_id()
    ph.js("posthog.identify('user-r')")
    ph.capture("while_identified")
    ph.wait("$identify", "while_identified")

    ph.js("posthog.reset()")
    new_anon = ph.distinct_id()
    assert new_anon not in ("user-r", first_anon)
    ph.capture("after_reset")
    events = ph.wait("after_reset")

    person = ph.person("user-r")
    assert one(events, "while_identified")["person_mode"] == "full"
    after = one(events, "after_reset")
    assert after["distinct_id"] == new_anon
    assert after["person_mode"] == "propertyless"
    assert after["properties"]["$process_person_profile"] is False
    assert after["properties"]["$is_identified"] is False
    assert after["person_id"] == ph.anonymous_person_id(new_anon) != person["uuid"]
    assert ph.persons(new_anon) == []
    assert len(ph.persons()) == 1 and new_anon not in person["distinct_ids"]
    ph.finish()


# -- person_profiles: 'always' and 'never' ------------------------------------------


def test_person_profiles_always(ph: PosthogPage) -> None:
    ph.open(person_profiles="always")
    ph.capture("custom")
    events = ph.wait("$pageview", "custom")
    anon = ph.distinct_id()

    person = ph.person(anon)
    assert person["is_identified"] is False
    for name in ("$pageview", "custom"):
        event = one(events, name)
        assert event["person_mode"] == "full"
        assert event["person_id"] == person["uuid"]
        assert "$process_person_profile" not in event["properties"]
    sent = [e for e in ph.watch.captured_events() if e["event"] in ("$pageview", "custom")]
    assert sent and all(e["properties"]["$process_person_profile"] is True for e in sent)
    assert person["properties"]["$initial_pathname"] == "/"
    ph.finish()


def test_person_profiles_never(ph: PosthogPage) -> None:
    ph.open(person_profiles="never")
    anon = ph.distinct_id()
    ph.js("posthog.identify('user-n', {email: 'n@example.com'})")
    ph.js("posthog.setPersonProperties({plan: 'pro'})")
    ph.js("posthog.alias('crm-n')")
    ph.capture("custom")
    events = ph.wait("$pageview", "custom")

    assert ph.distinct_id() == anon  # identify was refused by the SDK
    assert {e["event"] for e in events} == {"$pageview", "custom"}
    for event in events:
        assert event["distinct_id"] == anon
        assert event["person_mode"] == "propertyless"
        assert event["properties"]["$process_person_profile"] is False
    assert ph.persons() == []

    def refused(kind: str, text: str) -> bool:
        # posthog-js says so, as an error, for each refused call.
        return kind == "error" and 'process_person is set to "never"' in text

    assert sum(refused(kind, text) for kind, text in ph.watch.console) == 3
    ph.finish(allowed_console=refused)


# -- $pageleave through sendBeacon --------------------------------------------------


LEAVE_CASES = {
    # Batching (the default) with its longest flush interval, so that what is still
    # queued at unload surely goes by beacon, as gzip text/plain.
    "batched": {"request_queue_config": {"flush_interval_ms": 5000}},
    # No batching: events go at once by fetch; $pageleave by beacon, gzip.
    "instant": {"request_batching": False},
    # No compression: fetch sends JSON (CORS preflight); the beacon sends base64 form data.
    "uncompressed": {"request_batching": False, "disable_compression": True},
}


@pytest.mark.parametrize("case", list(LEAVE_CASES))
def test_pageleave_through_send_beacon(ph: PosthogPage, case: str) -> None:
    ph.open(**LEAVE_CASES[case])
    anon = ph.distinct_id()
    ph.capture("before_leaving")
    if case != "batched":
        ph.wait("$pageview", "before_leaving")
    ph.follow("#away", reinit=False)  # a page without posthog
    events = ph.wait("$pageview", "before_leaving", "$pageleave")

    leave = one(events, "$pageleave")
    assert leave["distinct_id"] == anon and leave["person_mode"] == "propertyless"
    assert leave["properties"]["$current_url"] == ph.site.url + "/"
    # The page's fetches never carried $pageleave: the unload beacon did.
    fetched = {e["uuid"] for e in ph.watch.captured_events()}
    assert leave["uuid"] not in fetched
    if case == "batched":
        assert one(events, "before_leaving")["uuid"] not in fetched
    else:
        assert one(events, "before_leaving")["uuid"] in fetched
    for request in ph.watch.captures():
        if case == "uncompressed":
            assert request.content_type.startswith("application/json")
        else:
            assert request.body[:2] == b"\x1f\x8b"
    ph.finish()


def test_pageleave_when_the_tab_closes(ph: PosthogPage) -> None:
    ph.open()
    ph.wait("$pageview")
    anon = ph.distinct_id()
    ph.capture("last_words")
    ph.watch.wait_idle(ph.page)
    with ph.page.expect_event("close"):
        ph.page.close(run_before_unload=True)  # pagehide fires, as when a tab closes
    events = ph.wait("$pageleave", "last_words")
    assert one(events, "$pageleave")["distinct_id"] == anon
    assert one(events, "last_words")["distinct_id"] == anon
    ph.finish()
