"""Per-event pipeline steps (compat §2).

Each step looks at one event and returns ``None`` to continue, a ``Drop`` to
stop (with its reason and warning), or appends a warning through the sink it
is given. Person processing, which needs the whole batch, runs after these.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from magpie.ingest.elements import elements_chain
from magpie.ingest.events import Drop, IncomingEvent, IngestionWarning

WarningSink = Callable[[IngestionWarning], None]
Step = Callable[[IncomingEvent, WarningSink], Drop | None]

MERGE_EVENTS = frozenset({"$identify", "$create_alias", "$merge_dangerously"})
PERSON_ONLY_EVENTS = MERGE_EVENTS | {"$groupidentify"}
PERSON_UPDATE_KEYS = ("$set", "$set_once", "$unset")
# Events that never feed the automatic person properties.
NO_AUTO_PERSON_PROPERTIES = frozenset({"$snapshot", "$performance_event"})

# Event properties copied to the person (`$set`) and to `$initial_*` (`$set_once`).
EVENT_TO_PERSON_PROPERTIES: tuple[str, ...] = (
    "$app_build",
    "$app_name",
    "$app_namespace",
    "$app_version",
    "$browser",
    "$browser_version",
    "$device_type",
    "$current_url",
    "$pathname",
    "$os",
    "$os_name",
    "$os_version",
    "$referring_domain",
    "$referrer",
    "$screen_height",
    "$screen_width",
    "$viewport_height",
    "$viewport_width",
    "$raw_user_agent",
    "utm_source",
    "utm_medium",
    "utm_campaign",
    "utm_content",
    "utm_name",
    "utm_term",
    "gclid",
    "gad_source",
    "gclsrc",
    "dclid",
    "gbraid",
    "wbraid",
    "fbclid",
    "msclkid",
    "twclid",
    "li_fat_id",
    "mc_cid",
    "igshid",
    "ttclid",
    "rdt_cid",
    "irclid",
    "_kx",
    "epik",
    "qclid",
    "sccid",
)


def read_person_flag(event: IncomingEvent, warn: WarningSink) -> None:
    """``$process_person_profile: false`` makes the event personless (anonymous)."""
    flag = event.properties.get("$process_person_profile", True)
    if flag is False:
        event.process_person = False
        return
    if flag is not True:
        warn(event.warning("invalid_process_person_profile", value=repr(flag)[:100]))
    # True is the default, so it is not kept on person-processed events.
    event.properties.pop("$process_person_profile", None)
    event.process_person = True


def merge_top_level_set(event: IncomingEvent, warn: WarningSink) -> None:
    """Top-level ``$set``/``$set_once`` join ``properties``; the top-level values win."""
    for key, top in (("$set", event.top_set), ("$set_once", event.top_set_once)):
        if top:
            inner = event.properties.get(key)
            event.properties[key] = {**inner, **top} if isinstance(inner, dict) else dict(top)


def add_request_properties(event: IncomingEvent, warn: WarningSink) -> None:
    if event.ip is not None and "$ip" not in event.properties:
        event.properties["$ip"] = event.ip
    if event.sent_at is not None:
        event.properties["$sent_at"] = event.sent_at


def extract_elements_chain(event: IncomingEvent, warn: WarningSink) -> None:
    chain = event.properties.pop("$elements_chain", None)
    elements = event.properties.pop("$elements", None)
    if isinstance(chain, str):
        event.elements_chain = chain
    elif isinstance(elements, list):
        event.elements_chain = elements_chain(elements)


def drop_personless_merges(event: IncomingEvent, warn: WarningSink) -> Drop | None:
    """Identity events need a person; sent personless they cannot mean anything."""
    if not event.process_person and event.event in PERSON_ONLY_EVENTS:
        return Drop(
            "personless identity event",
            event.warning("invalid_event_when_process_person_profile_is_false"),
        )
    return None


def add_automatic_person_properties(event: IncomingEvent, warn: WarningSink) -> None:
    """Copy browser, URL and campaign properties to the person and to ``$initial_*``."""
    if not event.process_person or event.event in NO_AUTO_PERSON_PROPERTIES:
        return
    properties = event.properties
    present = [key for key in EVENT_TO_PERSON_PROPERTIES if key in properties]
    if not present:
        return
    to_set = _dict_property(properties, "$set")
    to_set_once = _dict_property(properties, "$set_once")
    for key in present:
        value = properties[key]
        target = "$os" if key == "$os_name" else key
        if target not in to_set:
            to_set[target] = value
        to_set_once.setdefault("$initial_" + target.lstrip("$"), value)
    to_set.pop("$os_name", None)


def strip_person_updates(event: IncomingEvent, warn: WarningSink) -> None:
    """Personless events and ``$groupidentify`` never change a person."""
    if not event.process_person or event.event == "$groupidentify":
        for key in PERSON_UPDATE_KEYS:
            event.properties.pop(key, None)


def _dict_property(properties: dict[str, Any], key: str) -> dict[str, Any]:
    value = properties.get(key)
    if not isinstance(value, dict):
        value = {}
        properties[key] = value
    return value


STEPS: tuple[Step, ...] = (
    read_person_flag,
    merge_top_level_set,
    add_request_properties,
    extract_elements_chain,
    drop_personless_merges,
    add_automatic_person_properties,
    strip_person_updates,
)
