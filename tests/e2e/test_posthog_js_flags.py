"""posthog-js (the official SDK, in headless Chromium) with Magpie's flags: a flag
rolled out by a person property is off for an anonymous visitor and on after
identify; setPersonPropertiesForFlags turns it on at once; onFeatureFlags
fires; payloads arrive parsed; a multivariate flag keeps its variant across
identify with experience continuity."""

from __future__ import annotations

import time
from typing import Any

import httpx

from magpie.flags.hashing import variant_bucket
from tests.conftest import LiveServer
from tests.e2e.test_posthog_js import PosthogPage, browser, ph, site  # noqa: F401 - fixtures

PRO = {
    "groups": [
        {
            "properties": [{"key": "plan", "value": "pro", "type": "person"}],
            "rollout_percentage": 100,
        }
    ],
    "payloads": {"true": '{"seats": 10, "theme": "dark"}'},
}
VARIANTS = {
    "variants": [
        {"key": "control", "rollout_percentage": 50},
        {"key": "test", "rollout_percentage": 50},
    ]
}


def define(live: LiveServer, key: str, filters: dict[str, Any], **fields: Any) -> None:
    with live.api() as api:
        made = api.post(
            f"/api/projects/{live.project_id}/feature_flags/",
            json={"key": key, "filters": filters, **fields},
        )
    assert made.status_code == 201, made.text


def watch_flags(page: PosthogPage) -> None:
    """Once flags have loaded, onFeatureFlags calls a new callback with them at once."""
    page.page.wait_for_function("posthog.featureFlags.hasLoadedFlags === true")
    page.js(
        "window.__flagCalls = [];"
        " posthog.onFeatureFlags(function (flags, variants) {"
        " window.__flagCalls.push(variants); })"
    )
    assert page.js("window.__flagCalls.length") == 1


def after(page: PosthogPage, action: str, condition: str) -> None:
    """Run ``action``, then wait until the flags it makes posthog-js load meet ``condition``."""
    page.js(action)
    page.page.wait_for_function(condition)


def identify_flags(page: PosthogPage, user: str, timeout: float = 10.0) -> Any:
    """The /flags request identify made (posthog-js sends it a moment later), answered."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for request in page.watch.requests:
            ours = request.path == "/flags/" and request.finished
            if ours and request.payload().get("distinct_id") == user:
                return request
        page.page.wait_for_timeout(50)
    raise AssertionError(f"posthog-js asked no /flags for {user}")


def test_a_person_property_flag_from_anonymous_to_identified(ph: PosthogPage) -> None:  # noqa: F811
    define(ph.server, "pro-feature", PRO)
    ph.open()
    watch_flags(ph)
    assert ph.js("posthog.isFeatureEnabled('pro-feature')") is False
    assert not ph.js("window.__flagCalls[0]").get("pro-feature")  # onFeatureFlags fired
    after(
        ph,
        "posthog.identify('user-7', {plan: 'pro'})",
        "posthog.isFeatureEnabled('pro-feature') === true",
    )
    # the payload is JSON text on the wire; posthog-js hands it over parsed
    assert ph.js("posthog.getFeatureFlagPayload('pro-feature')") == {"seats": 10, "theme": "dark"}
    ph.wait("$identify", "$feature_flag_called")
    ph.finish()


def test_set_person_properties_for_flags_turns_it_on_at_once(ph: PosthogPage) -> None:  # noqa: F811
    define(ph.server, "pro-feature", PRO)
    ph.open()
    watch_flags(ph)
    assert ph.js("posthog.isFeatureEnabled('pro-feature')") is False
    after(
        ph,
        "posthog.setPersonPropertiesForFlags({plan: 'pro'})",
        "posthog.isFeatureEnabled('pro-feature') === true",
    )
    bodies = [r.payload() for r in ph.watch.requests if r.path == "/flags/"]
    assert bodies[-1]["person_properties"]["plan"] == "pro"
    ph.finish()


def test_a_variant_is_kept_across_identify(ph: PosthogPage) -> None:  # noqa: F811
    define(
        ph.server,
        "checkout-test",
        {"groups": [{"rollout_percentage": 100}], "multivariate": VARIANTS},
        ensure_experience_continuity=True,
    )
    ph.open()
    watch_flags(ph)
    anon = ph.distinct_id()
    before = ph.js("posthog.getFeatureFlag('checkout-test')")
    assert before in ("control", "test")
    # a user id that on its own would get the other variant
    user = next(
        f"user-{n}"
        for n in range(200)
        if (variant_bucket("checkout-test", f"user-{n}") < 0.5)
        != (variant_bucket("checkout-test", anon) < 0.5)
    )
    ph.js(f"posthog.identify('{user}')")
    identified = identify_flags(ph, user)
    assert identified.payload()["$anon_distinct_id"] == anon
    assert ph.js("posthog.getFeatureFlag('checkout-test')") == before
    # later loads no longer send the anonymous id; the stored hash key keeps the variant
    ph.wait("$identify")
    ph.page.reload()
    ph.wait_loaded()
    watch_flags(ph)
    assert ph.distinct_id() == user
    assert ph.js("posthog.getFeatureFlag('checkout-test')") == before
    # without continuity the user would have had the other one
    answer = httpx.post(
        f"{ph.server.url}/flags/?v=2",
        json={
            "token": ph.server.token,
            "distinct_id": user,
            "flag_keys_to_evaluate": ["checkout-test"],
        },
    ).json()
    assert answer["flags"]["checkout-test"]["variant"] == before
    ph.finish()
