"""Synthetic PostHog traffic, pre-encoded as capture requests: anonymous events
(``generate_requests``) and an identified workload (``generate_identified_requests``).

Everything here runs before any timing starts, in a process pool, so that the
load generator later only writes bytes it already has. Two SDK shapes are
mixed, as a product with a website and a Python backend would send them:

* posthog-js: ``POST /e/`` with a gzip body, ``Content-Type: text/plain`` and no
  ``Content-Encoding`` (the server sniffs the gzip magic); one visitor per request.
* posthog-python: ``POST /batch/`` with a JSON body, half of them gzipped with
  ``Content-Encoding: gzip``; many server-side distinct ids per request.
"""

from __future__ import annotations

import bisect
import functools
import gzip
import math
import os
import random
import uuid
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson

EVENTS_PER_REQUEST = 100
JS_LIB_VERSION = "1.236.1"
PYTHON_LIB_VERSION = "7.91.1"
# Half the requests come from browsers, half from a backend (plain and gzip).
REQUEST_MIX = ("js-gzip", "js-gzip", "py-json", "py-gzip")
_CHUNK_REQUESTS = 50  # requests built per pool task

# (os, os version, device type, screen, browser, browser versions, user agent)
_PLATFORMS = (
    (
        "Mac OS X",
        "10.15.7",
        "Desktop",
        (1920, 1080),
        "Chrome",
        (118, 126),
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36"
        " (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36",
    ),
    (
        "iOS",
        "17.4.1",
        "Mobile",
        (390, 844),
        "Mobile Safari",
        (16, 17),
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15"
        " (KHTML, like Gecko) Version/{v}.4 Mobile/15E148 Safari/604.1",
    ),
    (
        "Windows",
        "10.0",
        "Desktop",
        (2560, 1440),
        "Firefox",
        (120, 125),
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{v}.0) Gecko/20100101 Firefox/{v}.0",
    ),
    (
        "Windows",
        "10.0",
        "Desktop",
        (1920, 1080),
        "Microsoft Edge",
        (120, 124),
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
        " (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36 Edg/{v}.0.0.0",
    ),
    (
        "Android",
        "14.0",
        "Mobile",
        (412, 915),
        "Chrome",
        (118, 126),
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36"
        " (KHTML, like Gecko) Chrome/{v}.0.0.0 Mobile Safari/537.36",
    ),
)
_HOSTS = ("www.example.com", "app.example.com", "docs.example.com")
_PATHS = (
    "/",
    "/pricing",
    "/signup",
    "/login",
    "/dashboard",
    "/docs/getting-started",
    "/docs/api/capture",
    "/blog/launch-week",
    "/settings/billing",
    "/integrations",
    "/product/analytics",
    "/customers",
    "/careers",
    "/changelog",
)
_REFERRERS = (
    ("$direct", "$direct"),
    ("https://www.google.com/", "www.google.com"),
    ("https://news.ycombinator.com/", "news.ycombinator.com"),
    ("https://www.bing.com/", "www.bing.com"),
    ("https://t.co/", "t.co"),
)
_CAMPAIGNS = (
    ("google", "cpc", "spring_sale"),
    ("newsletter", "email", "weekly_digest"),
    ("twitter", "social", "launch_week"),
)
_ELEMENTS_CHAIN = (
    'button.btn.btn-primary:attr__class="btn btn-primary"nth-child="2"nth-of-type="1"'
    'text="Get started";div.hero:attr__class="hero"nth-child="1"nth-of-type="1";'
    'body:nth-child="2"nth-of-type="1"'
)
# Event names drawn with these weights: mostly pageviews and clicks.
_JS_EVENTS = (
    ("$pageview",) * 45
    + ("$autocapture",) * 35
    + ("$pageleave",) * 10
    + (
        "signup_started",
        "pricing_toggled",
        "video_played",
        "search_performed",
        "$web_vitals",
    )
)
_PY_EVENTS = ("api_request",) * 6 + ("job_finished",) * 2 + ("invoice_paid", "export_created")


@dataclass(frozen=True)
class CaptureRequest:
    """One capture call as an SDK sends it; ``path`` includes the query string."""

    kind: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes
    events: int

    def wire(self, host: str) -> bytes:
        """The complete HTTP/1.1 request, ready to be written to a keep-alive socket."""
        lines = [f"POST {self.path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


@dataclass(frozen=True)
class _Chunk:
    seed: str
    first_index: int
    count: int
    token: str
    now_ms: int


def generate_requests(count: int, token: str, *, label: str) -> list[CaptureRequest]:
    """``count`` requests of EVENTS_PER_REQUEST events each, built on every core.

    ``label`` seeds the content; uuids come from the same seeded generators, so two
    different labels never share an event uuid (that would be deduplicated).
    """
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    chunks = [
        _Chunk(f"{label}-{start}", start, min(_CHUNK_REQUESTS, count - start), token, now_ms)
        for start in range(0, count, _CHUNK_REQUESTS)
    ]
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        built = pool.map(_build_chunk, chunks)
        return [request for chunk in built for request in chunk]


def _build_chunk(chunk: _Chunk) -> list[CaptureRequest]:
    rnd = random.Random(chunk.seed)
    builders = {"js-gzip": _js_request, "py-json": _python_request, "py-gzip": _python_request}
    requests = []
    for index in range(chunk.first_index, chunk.first_index + chunk.count):
        kind = REQUEST_MIX[index % len(REQUEST_MIX)]
        requests.append(builders[kind](rnd, kind, chunk.token, chunk.now_ms))
    return requests


# -- posthog-js ---------------------------------------------------------------


def _js_request(rnd: random.Random, kind: str, token: str, now_ms: int) -> CaptureRequest:
    return _js_wire(kind, list(_js_visit(rnd, token, now_ms)), token, now_ms)


def _js_wire(kind: str, events: list[dict[str, Any]], token: str, now_ms: int) -> CaptureRequest:
    body = {"api_key": token, "batch": events, "sent_at": _iso_ms(now_ms)}
    path = f"/e/?ip=0&_={now_ms}&ver={JS_LIB_VERSION}&compression=gzip-js"
    headers = (("Content-Type", "text/plain"), ("Origin", "https://www.example.com"))
    return CaptureRequest(kind, path, headers, _gzip(orjson.dumps(body)), len(events))


def _js_visit(rnd: random.Random, token: str, now_ms: int) -> Iterator[dict[str, Any]]:
    """One anonymous visitor's session: the properties posthog-js attaches to every event."""
    start_ms = now_ms - rnd.randint(60_000, 1_800_000)
    device_id = _uuid7(rnd, start_ms - rnd.randint(0, 30 * 86_400_000))
    platform = rnd.choice(_PLATFORMS)
    version = rnd.randint(*platform[5])
    referrer = rnd.choice(_REFERRERS)
    host = rnd.choice(_HOSTS)
    common = _js_common(rnd, platform, version, referrer, host, device_id, token, start_ms)
    at_ms = start_ms
    for _ in range(EVENTS_PER_REQUEST):
        at_ms += rnd.randint(200, 15_000)
        at_ms = min(at_ms, now_ms)
        yield _js_event(rnd, common, host, at_ms)


def _js_common(
    rnd: random.Random,
    platform: tuple[Any, ...],
    version: int,
    referrer_and_domain: tuple[str, str],
    host: str,
    device_id: str,
    token: str,
    start_ms: int,
) -> dict[str, Any]:
    """The properties posthog-js attaches to every event of an anonymous visit."""
    os_name, os_version, device_type, (width, height), browser, _, agent = platform
    referrer, referring_domain = referrer_and_domain
    common: dict[str, Any] = {
        "$os": os_name,
        "$os_version": os_version,
        "$browser": browser,
        "$browser_version": version,
        "$device_type": device_type,
        "$raw_user_agent": agent.format(v=version),
        "$host": host,
        "$screen_height": height,
        "$screen_width": width,
        "$viewport_height": height - 120,
        "$viewport_width": width,
        "$lib": "web",
        "$lib_version": JS_LIB_VERSION,
        "$referrer": referrer,
        "$referring_domain": referring_domain,
        "distinct_id": device_id,
        "$device_id": device_id,
        "$is_identified": False,
        "$process_person_profile": False,
        "$session_id": _uuid7(rnd, start_ms),
        "$window_id": _uuid7(rnd, start_ms),
        "$configured_session_timeout_ms": 1_800_000,
        "token": token,
    }
    if rnd.random() < 0.3:  # a third of the visits arrive from a campaign
        source, medium, campaign = rnd.choice(_CAMPAIGNS)
        common.update(utm_source=source, utm_medium=medium, utm_campaign=campaign)
    return common


def _js_event(rnd: random.Random, common: dict[str, Any], host: str, at_ms: int) -> dict[str, Any]:
    name = rnd.choice(_JS_EVENTS)
    pathname = rnd.choice(_PATHS)
    properties = {
        **common,
        "$current_url": f"https://{host}{pathname}",
        "$pathname": pathname,
        "$pageview_id": _uuid7(rnd, at_ms),
        "$insert_id": f"{rnd.getrandbits(64):016x}",
        "$time": at_ms / 1000,
    }
    if name == "$autocapture":
        properties["$event_type"] = "click"
        properties["$elements_chain"] = _ELEMENTS_CHAIN
    return {
        "uuid": _uuid7(rnd, at_ms),
        "event": name,
        "properties": properties,
        "timestamp": _iso_ms(at_ms),
    }


# -- posthog-python -----------------------------------------------------------


def _python_request(rnd: random.Random, kind: str, token: str, now_ms: int) -> CaptureRequest:
    events = [_python_event(rnd, now_ms) for _ in range(EVENTS_PER_REQUEST)]
    return _python_wire(kind, events, token, now_ms)


def _python_wire(
    kind: str, events: list[dict[str, Any]], token: str, now_ms: int
) -> CaptureRequest:
    body = orjson.dumps(
        {
            "api_key": token,
            "batch": events,
            "historical_migration": False,
            "sent_at": _iso_us(now_ms),
        }
    )
    headers: tuple[tuple[str, str], ...] = (
        ("Content-Type", "application/json"),
        ("User-Agent", f"posthog-python/{PYTHON_LIB_VERSION}"),
    )
    if kind == "py-gzip":
        headers += (("Content-Encoding", "gzip"),)
        body = _gzip(body)
    return CaptureRequest(kind, "/batch/", headers, body, len(events))


def _python_event(rnd: random.Random, now_ms: int) -> dict[str, Any]:
    """A personless backend event, as posthog-python builds it for an unidentified caller."""
    at_ms = now_ms - rnd.randint(0, 10_000)
    name = rnd.choice(_PY_EVENTS)
    return {
        "event": name,
        "distinct_id": str(_uuid4(rnd)),
        "properties": {
            "endpoint": rnd.choice(("/api/orders", "/api/search", "/api/export", "/api/me")),
            "status_code": rnd.choice((200, 200, 200, 201, 404)),
            "duration_ms": round(rnd.uniform(2, 400), 1),
            "plan": rnd.choice(("free", "pro", "enterprise")),
            "$process_person_profile": False,
            "$lib": "posthog-python",
            "$lib_version": PYTHON_LIB_VERSION,
            "$geoip_disable": True,
        },
        "timestamp": _iso_us(at_ms),
        "uuid": str(_uuid4(rnd)),
    }


# -- the identified workload --------------------------------------------------
#
# A pool of web users, 30% of whom sign up. Every user makes a few visits (one
# posthog-js request each), spread over the stream; a user who signs up browses
# anonymously first, identifies during one visit and is identified from then on.
# Some later log in on a second device, and half of those had a person profile
# there before logging in (a newsletter form: setPersonProperties), which makes
# the login a merge of two persons. The backend (posthog-python) sends events
# for logged-in users (person-processed, with their company group), anonymous
# events like phase B's, `$groupidentify` for companies and `$create_alias` for
# CRM ids. Each cause comes before its effects in the stream: within one request
# for a visit, and at least _ORDER_MARGIN requests earlier across requests, far
# more than the connections that could reorder them.

IDENTIFY_SHARE = 0.3  # of the users: sign up (identify) at some visit
SET_SHARE = 0.1  # of person-processed events: carry a `$set`
_VISITS = {False: 1, True: 3}  # visits per user, by whether the user signs up
_IDENTIFY_VISIT_WEIGHTS = (0.55, 0.3, 0.15)  # signing up on the 1st, 2nd or 3rd visit
_SECOND_DEVICE_SHARE = 0.4  # of those who sign up: later log in on a second device
_PROFILE_BEFORE_LOGIN_SHARE = 0.5  # of those: a person on that device before login
_COMPANY_SHARE = 0.6  # of those who sign up: belong to a company (group analytics)
_USERS_PER_COMPANY = 3
_ALIAS_SHARE = 0.15  # of those who sign up: the backend aliases a CRM id to them
_ALIAS_EVENT_SHARE = 0.3  # of backend events for an aliased user: sent under the CRM id
_BACKEND_IDENTIFIED_SHARE = 0.5  # of backend events, once someone has signed up
_ORDER_MARGIN = 64  # requests between a cause and its first effect in another request
_SPAN_MS = 6 * 3_600_000  # the stream's timestamps cover the last six hours
_PLANS = ("free", "free", "starter", "pro", "enterprise")
_FIRST_NAMES = ("Ada", "Grace", "Alan", "Edsger", "Barbara", "Ken", "Margaret", "Linus")
_LAST_NAMES = ("Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Thompson", "Hamilton")
_INDUSTRIES = ("saas", "fintech", "retail", "health", "media", "logistics")
_FEATURES = ("dashboards", "funnels", "exports", "alerts", "sql", "cohorts")


@dataclass(frozen=True)
class IdentifiedWorkload:
    """The requests, and what the generator put in them (to compare with what is stored)."""

    requests: list[CaptureRequest]
    events: int
    users: int  # web users in the pool
    identifying_users: int  # users whose `$identify` is in the stream
    companies: int
    counts: dict[str, int]  # see _Tally

    def count(self, key: str) -> int:
        return self.counts.get(key, 0)


@dataclass(frozen=True)
class _User:
    index: int
    signs_up: bool
    visits: int
    identify_visit: int | None  # which visit identifies (0-based), None: never
    devices: tuple[str, ...]  # posthog-js device ids (the anonymous distinct ids)
    platforms: tuple[tuple[Any, ...], ...]  # one per device
    device_of_visit: tuple[int, ...]
    login_visit: int | None  # first visit on the second device (a second $identify)
    profile_before_login: bool
    user_id: str
    email: str
    name: str
    plan: str
    company: int | None
    crm_id: str | None
    phase: float  # where in the stream the user's visits start


@dataclass(frozen=True)
class _Population:
    users: tuple[_User, ...]
    companies: int
    visit_at: dict[int, tuple[int, int]]  # request index → (user, visit number)
    identified_at: dict[int, int]  # user → request index of its $identify
    # Backend events may name a user from this request index on: sorted (index, user).
    backend_from: tuple[tuple[int, int], ...]
    alias_at: dict[int, tuple[int, ...]]  # request index → users aliased in it
    aliased_at: dict[int, int]  # user → request index of its $create_alias
    group_identify_at: dict[int, tuple[tuple[int, int], ...]]  # index → (company, revision)


class _Tally(dict[str, int]):
    """Event counts by what they are, summed over the stream."""

    def add(self, key: str, count: int = 1) -> None:
        self[key] = self.get(key, 0) + count

    def event(self, event: dict[str, Any]) -> dict[str, Any]:
        properties = event["properties"]
        personless = properties.get("$process_person_profile") is False
        self.add("personless" if personless else "person-processed")
        if not personless:
            if "$set" in properties or "$set" in event:
                self.add("with $set")
            if "$groups" in properties:
                self.add("with $groups")
        if event["event"] in ("$identify", "$create_alias", "$groupidentify", "$set"):
            self.add(event["event"])
        return event


def generate_identified_requests(count: int, token: str, *, label: str) -> IdentifiedWorkload:
    """``count`` requests of the identified workload, in causal order, built on every core."""
    now_ms = int(datetime.now(UTC).timestamp() * 1000)
    chunks = [
        _Chunk(f"{label}-{start}", start, min(_CHUNK_REQUESTS, count - start), token, now_ms)
        for start in range(0, count, _CHUNK_REQUESTS)
    ]
    totals = _Tally()
    requests: list[CaptureRequest] = []
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for built, tally in pool.map(
            _build_identified_chunk, chunks, [label] * len(chunks), [count] * len(chunks)
        ):
            requests += built
            for key, value in tally.items():
                totals.add(key, value)
    population = _population(label, count)
    return IdentifiedWorkload(
        requests,
        sum(request.events for request in requests),
        len(population.users),
        len(population.identified_at),
        population.companies,
        dict(sorted(totals.items())),
    )


def _build_identified_chunk(
    chunk: _Chunk, label: str, total: int
) -> tuple[list[CaptureRequest], _Tally]:
    rnd = random.Random(chunk.seed)
    population = _population(label, total)
    tally = _Tally()
    requests = []
    for index in range(chunk.first_index, chunk.first_index + chunk.count):
        kind = REQUEST_MIX[index % len(REQUEST_MIX)]
        stream_ms = chunk.now_ms - round(_SPAN_MS * (1 - (index + 1) / total))
        if kind == "js-gzip":
            user, visit = population.visit_at[index]
            events = _user_visit(rnd, population.users[user], visit, chunk.token, stream_ms, tally)
            requests.append(_js_wire(kind, events, chunk.token, chunk.now_ms))
        else:
            events = _backend_batch(rnd, population, index, stream_ms, tally)
            requests.append(_python_wire(kind, events, chunk.token, chunk.now_ms))
    return requests, tally


@functools.lru_cache(maxsize=4)
def _population(label: str, total: int) -> _Population:
    """The users and the schedule of their visits; every pool process derives the same."""
    js_indices = [i for i in range(total) if REQUEST_MIX[i % len(REQUEST_MIX)] == "js-gzip"]
    mean_visits = IDENTIFY_SHARE * _VISITS[True] + (1 - IDENTIFY_SHARE) * _VISITS[False]
    users: list[_User] = []
    while sum(u.visits for u in users) < len(js_indices) or not users:
        wanted = max(len(users) + 1, math.ceil(len(js_indices) / mean_visits))
        users += [_make_user(label, index) for index in range(len(users), wanted)]
    companies = max(1, round(sum(u.company is not None for u in users) / _USERS_PER_COMPANY))
    users = [
        replace(u, company=u.company % companies) if u.company is not None else u for u in users
    ]
    # Each user's visits are evenly spaced over the stream from its own phase; the
    # last few visits that do not fit in ``total`` requests are left out.
    visits = sorted(((v + u.phase) / u.visits, u.index, v) for u in users for v in range(u.visits))
    visit_at = {
        index: (user, visit) for index, (_, user, visit) in zip(js_indices, visits, strict=False)
    }
    identified_at = {
        user: index
        for index, (user, visit) in visit_at.items()
        if visit == users[user].identify_visit
    }
    backend_from = tuple(
        sorted((index + _ORDER_MARGIN, user) for user, index in identified_at.items())
    )
    py_indices = [i for i in range(total) if REQUEST_MIX[i % len(REQUEST_MIX)] != "js-gzip"]
    alias_at: dict[int, list[int]] = {}
    aliased_at: dict[int, int] = {}
    for user, index in identified_at.items():
        if users[user].crm_id is None:
            continue
        delay = _ORDER_MARGIN + round(random.Random(f"{label}-alias-{user}").random() * total / 8)
        at = bisect.bisect_left(py_indices, index + delay)
        if at < len(py_indices):
            alias_at.setdefault(py_indices[at], []).append(user)
            aliased_at[user] = py_indices[at]
    # The backend identifies each company twice: once early, once later with new figures.
    group_identify_at: dict[int, list[tuple[int, int]]] = {}
    if py_indices:
        for company in range(companies):
            for revision in (0, 1):
                position = (revision + (company + 0.5) / companies) / 2
                index = py_indices[min(len(py_indices) - 1, int(position * len(py_indices)))]
                group_identify_at.setdefault(index, []).append((company, revision))
    return _Population(
        tuple(users),
        companies,
        visit_at,
        identified_at,
        backend_from,
        {index: tuple(found) for index, found in alias_at.items()},
        aliased_at,
        {index: tuple(found) for index, found in group_identify_at.items()},
    )


def _make_user(label: str, index: int) -> _User:
    rnd = random.Random(f"{label}-user-{index}")
    # Exactly IDENTIFY_SHARE of every ten consecutive users sign up.
    signs_up = (index * 7) % 10 < IDENTIFY_SHARE * 10
    visits = _VISITS[signs_up]
    identify_visit = (
        rnd.choices(range(len(_IDENTIFY_VISIT_WEIGHTS)), _IDENTIFY_VISIT_WEIGHTS)[0]
        if signs_up
        else None
    )
    born_ms = 1_700_000_000_000 + rnd.randint(0, 10**10)
    devices = [_uuid7(rnd, born_ms)]
    platforms = [rnd.choice(_PLATFORMS)]
    device_of_visit = [0] * visits
    login_visit = None
    second_device = identify_visit is not None and identify_visit + 1 < visits
    if second_device and rnd.random() < _SECOND_DEVICE_SHARE:
        assert identify_visit is not None
        devices.append(_uuid7(rnd, born_ms + rnd.randint(0, 10**9)))
        platforms.append(rnd.choice(_PLATFORMS))
        login_visit = rnd.randrange(identify_visit + 1, visits)
        for visit in range(login_visit, visits):
            device_of_visit[visit] = 1 if visit == login_visit else rnd.randrange(2)
    first, last = rnd.choice(_FIRST_NAMES), rnd.choice(_LAST_NAMES)
    user_id = f"user_{rnd.getrandbits(64):016x}"
    return _User(
        index=index,
        signs_up=signs_up,
        visits=visits,
        identify_visit=identify_visit,
        devices=tuple(devices),
        platforms=tuple(platforms),
        device_of_visit=tuple(device_of_visit),
        login_visit=login_visit,
        profile_before_login=rnd.random() < _PROFILE_BEFORE_LOGIN_SHARE,
        user_id=user_id,
        email=f"{first}.{last}.{index}@example.com".lower(),
        name=f"{first} {last}",
        plan=rnd.choice(_PLANS),
        # Mapped onto the population's companies once their number is known.
        company=rnd.getrandbits(30) if signs_up and rnd.random() < _COMPANY_SHARE else None,
        crm_id=f"crm-{rnd.getrandbits(32)}" if signs_up and rnd.random() < _ALIAS_SHARE else None,
        phase=rnd.random(),
    )


def _company_key(company: int) -> str:
    return f"org_{company:05d}"


# -- identified workload: posthog-js visits -------------------------------------


def _user_visit(
    rnd: random.Random, user: _User, visit: int, token: str, end_ms: int, tally: _Tally
) -> list[dict[str, Any]]:
    """One visit (one posthog-js request) of ``user``, ending by ``end_ms``."""
    device = user.device_of_visit[visit]
    platform = user.platforms[device]
    version = rnd.randint(*platform[5])
    host = rnd.choice(_HOSTS)
    start_ms = end_ms - rnd.randint(60_000, 900_000)
    common = _js_common(
        rnd, platform, version, rnd.choice(_REFERRERS), host, user.devices[device], token, start_ms
    )
    # Where in the visit the user identifies (None: not in this visit), and whether
    # the events before that point are anonymous.
    if user.identify_visit is None or visit < user.identify_visit:
        identify_at = None
        identified = False
    elif visit == user.identify_visit or visit == user.login_visit:
        identify_at = rnd.randint(10, 60)
        identified = False
    else:
        identify_at = None
        identified = True
    profile_at = (
        rnd.randint(2, identify_at - 2)
        if visit == user.login_visit and user.profile_before_login and identify_at
        else None
    )
    if identified:
        _become_identified(common, user)
    events: list[dict[str, Any]] = []
    at_ms = start_ms
    while len(events) < EVENTS_PER_REQUEST:
        at_ms = min(at_ms + rnd.randint(200, 15_000), end_ms)
        if profile_at is not None and len(events) == profile_at:
            # setPersonProperties while anonymous: posthog-js turns person processing
            # on for this device id, so it gets a person of its own before login.
            common["$process_person_profile"] = True
            update = {"newsletter_opt_in": True, "newsletter_email": user.email}
            events.append(_js_special(rnd, common, "$set", {"$set": update}, at_ms))
        elif identify_at is not None and len(events) == identify_at:
            events += _js_identify(rnd, common, user, visit, at_ms)
        else:
            event = _js_event(rnd, common, host, at_ms)
            if common["$process_person_profile"] and rnd.random() < SET_SHARE:
                event["properties"]["$set"] = _person_update(rnd, at_ms)
            events.append(event)
    del events[EVENTS_PER_REQUEST:]
    for event in events:
        tally.event(event)
    if visit == user.identify_visit:
        tally.add("sign-up visits")
    elif visit == user.login_visit:
        tally.add("second-device logins" if profile_at is None else "second-device merges")
    return events


def _js_identify(
    rnd: random.Random, common: dict[str, Any], user: _User, visit: int, at_ms: int
) -> list[dict[str, Any]]:
    """posthog.identify(user id, $set, $set_once), then posthog.group() for the company."""
    anonymous_id = common["distinct_id"]
    _become_identified(common, user, groups=False)
    identify = _js_special(rnd, common, "$identify", {"$anon_distinct_id": anonymous_id}, at_ms)
    identify["$set"] = {"email": user.email, "name": user.name, "plan": user.plan}
    if visit == user.identify_visit:
        identify["$set_once"] = {"signed_up_at": _iso_ms(at_ms)}
    events = [identify]
    if user.company is not None:
        key = _company_key(user.company)
        common["$groups"] = {"company": key}
        group = {"$group_type": "company", "$group_key": key, "$group_set": {"name": key}}
        events.append(_js_special(rnd, common, "$groupidentify", group, at_ms))
    return events


def _become_identified(common: dict[str, Any], user: _User, *, groups: bool = True) -> None:
    """What posthog-js attaches to every event once identified (person_profiles=identified_only)."""
    common["distinct_id"] = user.user_id
    common["$is_identified"] = True
    common["$process_person_profile"] = True
    if groups and user.company is not None:
        common["$groups"] = {"company": _company_key(user.company)}


def _js_special(
    rnd: random.Random,
    common: dict[str, Any],
    name: str,
    properties: dict[str, Any],
    at_ms: int,
) -> dict[str, Any]:
    return {
        "uuid": _uuid7(rnd, at_ms),
        "event": name,
        "properties": {**common, **properties, "$time": at_ms / 1000},
        "timestamp": _iso_ms(at_ms),
    }


def _person_update(rnd: random.Random, at_ms: int) -> dict[str, Any]:
    """A person property the app sets now and then."""
    choice = rnd.randrange(4)
    if choice == 0:
        return {"last_plan_view": _iso_ms(at_ms)}
    if choice == 1:
        return {"theme": rnd.choice(("light", "dark", "system"))}
    if choice == 2:
        return {"projects": rnd.randint(1, 12)}
    return {"last_feature_used": rnd.choice(_FEATURES)}


# -- identified workload: posthog-python ----------------------------------------


def _backend_batch(
    rnd: random.Random, population: _Population, index: int, end_ms: int, tally: _Tally
) -> list[dict[str, Any]]:
    """100 backend events: logged-in users' and anonymous ones, plus scheduled identity calls."""
    events = [
        _python_alias(rnd, population.users[user], end_ms)
        for user in population.alias_at.get(index, ())
    ]
    events += [
        _python_group_identify(rnd, company, revision, end_ms)
        for company, revision in population.group_identify_at.get(index, ())
    ]
    # Users signed up far enough upstream that their $identify is surely applied.
    known = bisect.bisect_right(population.backend_from, (index, len(population.users)))
    while len(events) < EVENTS_PER_REQUEST:
        if known and rnd.random() < _BACKEND_IDENTIFIED_SHARE:
            user = population.users[population.backend_from[rnd.randrange(known)][1]]
            aliased = population.aliased_at.get(user.index)
            distinct_id = user.user_id
            alias_applied = aliased is not None and aliased + _ORDER_MARGIN <= index
            if alias_applied and user.crm_id and rnd.random() < _ALIAS_EVENT_SHARE:
                distinct_id = user.crm_id
            events.append(_python_user_event(rnd, user, distinct_id, end_ms))
        else:
            events.append(_python_event(rnd, end_ms))  # as in phase B
    rnd.shuffle(events)  # nothing in one request depends on another event of it
    for event in events:
        tally.event(event)
    return events


def _python_properties(**properties: Any) -> dict[str, Any]:
    return {
        **properties,
        "$lib": "posthog-python",
        "$lib_version": PYTHON_LIB_VERSION,
        "$geoip_disable": True,
    }


def _python_user_event(
    rnd: random.Random, user: _User, distinct_id: str, end_ms: int
) -> dict[str, Any]:
    """posthog-python capture() for a logged-in user: person-processed, with the company."""
    properties = _python_properties(
        endpoint=rnd.choice(("/api/orders", "/api/search", "/api/export", "/api/me")),
        status_code=rnd.choice((200, 200, 200, 201, 404)),
        duration_ms=round(rnd.uniform(2, 400), 1),
        plan=user.plan,
    )
    if user.company is not None:
        properties["$groups"] = {"company": _company_key(user.company)}
    at_ms = end_ms - rnd.randint(0, 10_000)
    if rnd.random() < SET_SHARE:
        properties["$set"] = _backend_person_update(rnd, user, at_ms)
    return _python_message(rnd, rnd.choice(_PY_EVENTS), distinct_id, properties, at_ms)


def _backend_person_update(rnd: random.Random, user: _User, at_ms: int) -> dict[str, Any]:
    if rnd.random() < 0.5:
        return {"plan": user.plan, "last_api_call_at": _iso_us(at_ms)}
    return {"api_calls_bucket": rnd.choice(("<10", "10-100", "100-1000", ">1000"))}


def _python_alias(rnd: random.Random, user: _User, end_ms: int) -> dict[str, Any]:
    """posthog-python alias(previous_id=user id, distinct_id=CRM id)."""
    assert user.crm_id is not None
    properties = _python_properties(distinct_id=user.user_id, alias=user.crm_id)
    at_ms = end_ms - rnd.randint(0, 10_000)
    return _python_message(rnd, "$create_alias", user.user_id, properties, at_ms)


def _python_group_identify(
    rnd: random.Random, company: int, revision: int, end_ms: int
) -> dict[str, Any]:
    """posthog-python group_identify("company", key, properties): its default distinct id."""
    key = _company_key(company)
    figures = random.Random(f"company-{company}")
    group_set = {
        "name": key,
        "industry": figures.choice(_INDUSTRIES),
        "employees": figures.randint(5, 5_000) * (revision + 1),
        "plan": _PLANS[(company + revision) % len(_PLANS)],
    }
    properties = _python_properties(
        **{"$group_type": "company", "$group_key": key, "$group_set": group_set}
    )
    at_ms = end_ms - rnd.randint(0, 10_000)
    return _python_message(rnd, "$groupidentify", f"$company_{key}", properties, at_ms)


def _python_message(
    rnd: random.Random, name: str, distinct_id: str, properties: dict[str, Any], at_ms: int
) -> dict[str, Any]:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "properties": properties,
        "timestamp": _iso_us(at_ms),
        "uuid": str(_uuid4(rnd)),
    }


# -- helpers ------------------------------------------------------------------


def _uuid7(rnd: random.Random, unix_ms: int) -> str:
    value = (unix_ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rnd.getrandbits(12) << 64
    value |= 0b10 << 62 | rnd.getrandbits(62)
    return str(uuid.UUID(int=value))


def _uuid4(rnd: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rnd.getrandbits(128), version=4)


def _iso_ms(unix_ms: int) -> str:
    """posthog-js style: ``2024-05-01T12:00:00.123Z``."""
    at = datetime.fromtimestamp(unix_ms / 1000, UTC)
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_us(unix_ms: int) -> str:
    """posthog-python style: ``2024-05-01T12:00:00.123000+00:00``."""
    return datetime.fromtimestamp(unix_ms / 1000, UTC).isoformat(timespec="microseconds")


def _gzip(data: bytes) -> bytes:
    return gzip.compress(data, compresslevel=6, mtime=0)
