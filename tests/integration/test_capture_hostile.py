"""Hostile requests over real HTTP: clear 4xx answers, and no request holds up the others."""

from __future__ import annotations

import asyncio
import base64
import gzip
import json
import os
import signal
import threading
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import lzstring
import pytest

from magpie.http import flags as flags_module
from tests.conftest import LiveServer, running_live_server

V0_PATHS = ["/e/", "/i/v0/e/", "/batch/", "/capture/", "/track/", "/engage/"]
V1_PATH = "/i/v1/analytics/events"
FLAGS_PATHS = ["/flags/?v=2", "/decide/"]
TOKEN = "<token>"  # replaced by the live server's project token
OUT_OF_RANGE = ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"]
# 50 KB of this took 17 s through the old base64 check, and four times as long
# takes sixteen times longer: this would need over four minutes.
QUADRATIC = "A" + " " * 200_000 + "!"


def ev(**fields: Any) -> dict[str, Any]:
    return {"event": "hostile", "distinct_id": "d", "uuid": str(uuid.uuid4()), **fields}


# (name, events or a whole body, the statuses acceptable on v0 paths)
HOSTILE_EVENTS: list[tuple[str, Any, set[int]]] = [
    ("event is a list", ev(event=[]), {400}),
    ("event is an object", ev(event={}), {400}),
    ("event is a number", ev(event=7), {400}),
    ("event is missing", {"distinct_id": "d"}, {200, 400}),  # /engage takes it
    *[(f"timestamp {t}", ev(timestamp=t), {400}) for t in OUT_OF_RANGE],
    ("timestamp of 5000 digits", ev(timestamp="9" * 5000), {200}),
    ("offset of 2**63", ev(offset=2**63), {200}),
    ("offset of -2**63", ev(offset=-(2**63)), {200}),
    ("name with NUL", ev(event="a\0b"), {200}),
    ("name of 5000 characters", ev(event="n" * 5000), {200}),
    ("distinct_id with NUL", ev(distinct_id="a\0b"), {200}),
    ("distinct_id nested 300 deep", ev(distinct_id=json.loads("[" * 300 + "]" * 300)), {400}),
    ("distinct_id of 5000 characters", ev(distinct_id="x" * 5000), {200}),
    ("uuid is a number", ev(uuid=12), {400}),
    ("properties is text", ev(properties="x"), {400}),
    ("$set is a list", ev(**{"$set": [1]}), {400}),
    ("$cookieless_mode is text", ev(properties={"$cookieless_mode": "yes"}), {400}),
    ("huge integer property", ev(properties={"n": 2**64 - 1}), {200}),
]
HOSTILE_BODIES: list[tuple[str, Any, set[int]]] = [
    *[
        (f"sent_at {t}", {"api_key": TOKEN, "batch": [ev()], "sent_at": t}, {400})
        for t in OUT_OF_RANGE
    ],
    ("batch is text", {"api_key": TOKEN, "batch": "x"}, {400}),
    ("empty batch", {"api_key": TOKEN, "batch": []}, {400}),
    ("token is a list", {"api_key": ["phc"], "batch": [ev()]}, {403}),
    ("token is nested", {"api_key": json.loads("[" * 300 + "]" * 300), "batch": [ev()]}, {403}),
    ("tokens of events are objects", [ev(token={"a": 1}), ev(token={"b": 2})], {403}),
    ("a bare number", 42, {400}),
    ("a bare string", "text", {400}),
]


def as_body(server: LiveServer, case: Any) -> bytes:
    if (
        isinstance(case, dict)
        and ("event" in case or "distinct_id" in case)
        and "batch" not in case
    ):
        case = {"api_key": TOKEN, "batch": [case]}
    return json.dumps(case).replace(json.dumps(TOKEN), json.dumps(server.token)).encode()


def lz64(text: str) -> str:
    return str(lzstring.LZString().compressToBase64(text))


def form(data: str, **extra: str) -> dict[str, Any]:
    fields = "&".join(f"{k}={quote(v)}" for k, v in {"data": data, **extra}.items())
    return {"content": fields, "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


V0_ENCODINGS: dict[str, Callable[[bytes], dict[str, Any]]] = {
    "json": lambda b: {"content": b, "headers": {"Content-Type": "application/json"}},
    "gzip-text": lambda b: {"content": gzip.compress(b), "headers": {"Content-Type": "text/plain"}},
    "base64-form": lambda b: {
        **form(base64.b64encode(b).decode()),
        "params": {"compression": "base64"},
    },
    "lz64-form": lambda b: form(lz64(b.decode()), compression="lz64"),
    "data-query": lambda b: {"method": "GET", "params": {"data": base64.b64encode(b).decode()}},
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with running_live_server(tmp_path_factory.mktemp("hostile") / "data") as live:
        yield live


@pytest.fixture(scope="module")
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as http:
        yield http


def send(client: httpx.Client, path: str, spec: dict[str, Any]) -> httpx.Response:
    spec = dict(spec)
    method = spec.pop("method", "POST")
    return client.request(method, path, **spec)


def assert_capture_error(response: httpx.Response, statuses: set[int]) -> None:
    assert response.status_code in statuses, response.text
    if response.status_code >= 400:
        body = response.json()
        assert set(body) == {"status", "code", "error"} and body["status"] == response.status_code


@pytest.mark.parametrize("encoding", V0_ENCODINGS)
@pytest.mark.parametrize("path", V0_PATHS)
def test_no_hostile_value_gets_a_server_error_on_any_v0_path(
    server: LiveServer, client: httpx.Client, path: str, encoding: str
) -> None:
    for name, case, statuses in HOSTILE_EVENTS + HOSTILE_BODIES:
        body = as_body(server, case)
        if encoding == "data-query" and len(body) > 4000:
            continue  # too long for a URL
        if name == "event is missing" and not path.startswith("/engage"):
            statuses = {400}
        response = send(client, path, V0_ENCODINGS[encoding](body))
        assert response.status_code in statuses, (name, response.status_code, response.text)
        assert_capture_error(response, statuses)


@pytest.mark.parametrize("compressed", [False, True])
def test_v1_answers_each_hostile_event_alone(
    server: LiveServer, client: httpx.Client, compressed: bool
) -> None:
    good = ev(event="v1-good")
    hostile = [case for _, case, _ in HOSTILE_EVENTS if "event" in case]
    raw = json.dumps({"created_at": "2026-01-01T00:00:00Z", "batch": [good, *hostile]}).encode()
    headers = {"Authorization": f"Bearer {server.token}", "Content-Type": "application/json"}
    if compressed:
        raw, headers = gzip.compress(raw), {**headers, "Content-Encoding": "gzip"}
    response = client.post(V1_PATH, content=raw, headers=headers)
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert results[good["uuid"]] == {"result": "ok"}
    for timestamp in OUT_OF_RANGE:
        [case] = [c for c in hostile if c.get("timestamp") == timestamp]
        assert results[case["uuid"]]["result"] == "drop"
        assert results[case["uuid"]]["details"].startswith("invalid_timestamp")


@pytest.mark.parametrize("created_at", OUT_OF_RANGE)
def test_v1_refuses_an_out_of_range_created_at(
    server: LiveServer, client: httpx.Client, created_at: str
) -> None:
    response = client.post(
        V1_PATH,
        json={"created_at": created_at, "batch": [ev()]},
        headers={"Authorization": f"Bearer {server.token}"},
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_timestamp"


@pytest.mark.parametrize("path", V0_PATHS)
@pytest.mark.parametrize("where", ["timestamp", "sent_at"])
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_out_of_range_dates_are_invalid_timestamp(
    server: LiveServer, client: httpx.Client, path: str, where: str, value: str
) -> None:
    event = ev(timestamp=value) if where == "timestamp" else ev()
    body: dict[str, Any] = {"api_key": server.token, "batch": [event]}
    if where == "sent_at":
        body["sent_at"] = value
    response = client.post(path, json=body)
    assert (response.status_code, response.json()["code"]) == (400, "invalid_timestamp")


def test_an_offset_beside_a_bad_timestamp_wins(server: LiveServer, client: httpx.Client) -> None:
    # posthog-js sends offset instead of timestamp; when both come, the offset is used.
    body = {
        "api_key": server.token,
        "batch": [ev(event="offset-wins", timestamp=OUT_OF_RANGE[0], offset=5)],
    }
    assert client.post("/batch/", json=body).status_code == 200


@pytest.mark.parametrize("version", ["²", "٣", "9" * 5000, "-1", "2.0"])
@pytest.mark.parametrize("path", ["/flags/", "/decide/"])
def test_flags_versions_that_are_not_small_numbers_are_refused(
    server: LiveServer, client: httpx.Client, path: str, version: str
) -> None:
    response = client.post(
        path, params={"v": version}, json={"token": server.token, "distinct_id": "u"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input" and response.json()["attr"] == "v"


def test_event_names_are_sanitised_like_distinct_ids(
    server: LiveServer, client: httpx.Client
) -> None:
    long_name = "L" * 5000
    body = {
        "api_key": server.token,
        "batch": [
            ev(event="nul\0name", distinct_id="names"),
            ev(event=long_name, distinct_id="names"),
        ],
    }
    assert client.post("/batch/", json=body).status_code == 200
    names = sorted(e["event"] for e in server.events(distinct_id="names"))
    assert names == sorted(["nul\ufffdname", "L" * 200])


def test_ids_an_identify_joins_are_sanitised_too(server: LiveServer, client: httpx.Client) -> None:
    anon = "anon\0" + "a" * 300
    body = {
        "api_key": server.token,
        "batch": [
            ev(event="$pageview", distinct_id=anon),
            ev(event="$identify", distinct_id="signed-up", properties={"$anon_distinct_id": anon}),
        ],
    }
    assert client.post("/batch/", json=body).status_code == 200
    server.settle()
    with server.api() as api:
        persons = api.get(
            f"/api/projects/{server.project_id}/persons/", params={"distinct_id": "signed-up"}
        ).json()["results"]
    [person] = persons
    assert ("anon\ufffd" + "a" * 300)[:200] in person["distinct_ids"]
    assert all("\0" not in d and len(d) <= 200 for d in person["distinct_ids"])


# -- bounded decoding ---------------------------------------------------------


@pytest.mark.timeout(60)
@pytest.mark.parametrize("ways", ["text", "form", "query", "tabs", "v1", "flags", "decide"])
def test_the_quadratic_base64_input_is_refused_by_every_way_in(
    server: LiveServer, client: httpx.Client, ways: str
) -> None:
    specs: dict[str, tuple[str, dict[str, Any]]] = {
        "text": ("/e/", {"content": QUADRATIC, "headers": {"Content-Type": "text/plain"}}),
        "form": ("/e/", form(QUADRATIC)),
        # As long as a URL may be here (about 64 KB); '+' arrives as a space.
        "query": ("/e/?data=A" + "+" * 60_000 + "!", {"method": "GET"}),
        "tabs": ("/batch/", {"content": QUADRATIC.replace(" ", "\t")}),
        "v1": (
            V1_PATH,
            {"content": QUADRATIC, "headers": {"Authorization": f"Bearer {server.token}"}},
        ),
        "flags": ("/flags/?v=2", {"content": QUADRATIC, "headers": {"Content-Type": "text/plain"}}),
        "decide": ("/decide/", form(QUADRATIC)),
    }
    path, spec = specs[ways]
    response = send(client, path, spec)
    assert response.status_code == 400, response.text


@pytest.mark.parametrize("path", FLAGS_PATHS)
def test_flags_refuse_lz64(server: LiveServer, client: httpx.Client, path: str) -> None:
    body = json.dumps({"token": server.token, "distinct_id": "u"})
    response = send(client, path, form(lz64(body), compression="lz64"))
    assert (response.status_code, response.json()["code"]) == (415, "unsupported_encoding")


def test_a_25_mb_lz64_body_is_refused_on_its_first_bytes(
    server: LiveServer, client: httpx.Client
) -> None:
    body = base64.b64encode(os.urandom(18 * 1024 * 1024))  # 24 MB of lz64's alphabet
    response = client.post(
        "/batch/",
        params={"compression": "lz64"},
        content=body,
        headers={"Content-Type": "text/plain"},
    )
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    assert "lz64" in response.json()["error"]
    # The unread rest of the body did not break the connection for what follows.
    assert send_small(server, client, "after-lz64").status_code == 200


def test_a_huge_lz64_body_is_refused_before_decoding(
    server: LiveServer, client: httpx.Client
) -> None:
    events = [ev(properties={"i": i, "pad": "p" * 200}) for i in range(40_000)]
    body = lz64(json.dumps({"api_key": server.token, "batch": events}))
    assert len(body) > 1024 * 1024
    response = send(client, "/batch/", {**form(body), "params": {"compression": "lz64"}})
    assert (response.status_code, response.json()["code"]) == (413, "payload_too_large")
    assert "lz64" in response.json()["error"]


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if int(text[text.rindex(")") + 2 :].split()[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def decode_process_pid(live: LiveServer, http: httpx.Client) -> int:
    """Start the decode process with a large request, and find it."""
    assert send_large(live, http, "warm-up").status_code == 200
    service = live.magpie.capture_service
    if service is not None:
        pid = service.lanes.heavy.pid
        assert pid is not None
        return pid
    gateway = live.magpie.gateway
    assert gateway is not None and gateway._process is not None
    [pid] = [p for p in children_of(gateway._process.pid)]
    return pid


def send_large(live: LiveServer, http: httpx.Client, name: str) -> httpx.Response:
    events = [ev(event=name, distinct_id=f"big-{i}") for i in range(700)]  # over the light budget
    return http.post("/batch/", json={"api_key": live.token, "batch": events})


def send_small(live: LiveServer, http: httpx.Client, name: str) -> httpx.Response:
    events = [ev(event=name, distinct_id=f"small-{i}") for i in range(20)]
    return http.post("/batch/", json={"api_key": live.token, "batch": events})


@pytest.mark.parametrize("capture_process", [False, True])
def test_a_stuck_large_request_holds_up_no_other_request(
    tmp_path: Path, capture_process: bool
) -> None:
    with running_live_server(tmp_path / "data", capture_process=capture_process) as live:
        pid = None
        try:
            with httpx.Client(base_url=live.url, timeout=60) as http, ThreadPoolExecutor(2) as pool:
                pid = decode_process_pid(live, http)
                os.kill(pid, signal.SIGSTOP)  # as if it were decoding something enormous
                stuck: Future[httpx.Response] = pool.submit(send_large, live, http, "large")
                for i in range(5):
                    assert send_small(live, http, f"small-{i}").status_code == 200
                assert http.get("/_health").status_code == 200
                assert not stuck.done()
                os.kill(pid, signal.SIGCONT)
                pid = None
                assert stuck.result().status_code == 200
            assert len(live.events(event="large")) == 700
            assert len(live.events(event="small-4")) == 20
            if live.magpie.capture_service is not None:  # the lanes are visible in this process
                lanes = live.magpie.capture_service.lanes
                assert lanes.offloaded == 2 and lanes.inline >= 5
        finally:
            if pid is not None:
                os.kill(pid, signal.SIGCONT)


def test_large_flags_bodies_are_decoded_off_the_event_loop(
    server: LiveServer, client: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    release, entered = threading.Event(), threading.Event()
    on_a_loop: list[bool] = []
    decode = flags_module.decode_flags_body

    def held(wire: Any, *limit: int) -> dict[str, Any]:
        try:
            asyncio.get_running_loop()
            on_a_loop.append(True)
        except RuntimeError:
            on_a_loop.append(False)
        entered.set()
        assert release.wait(60)
        return decode(wire, *limit)

    monkeypatch.setattr(flags_module, "decode_flags_body", held)
    # Small bodies are decoded on the loop (cheap, and most requests are small);
    # one over KEPT_BODY_LIMIT goes to a thread.
    large = {"token": server.token, "distinct_id": "u", "person_properties": {"pad": "x" * 20_000}}
    assert len(str(large)) > flags_module.KEPT_BODY_LIMIT
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(httpx.post, server.url + "/flags/?v=2", json=large)
        assert entered.wait(60)
        # While a flags body is being decoded, the loop serves everyone else.
        assert client.get("/_health").status_code == 200
        assert send_small(server, client, "during-flags").status_code == 200
        release.set()
        assert pending.result().status_code == 200
    assert on_a_loop == [False]


def test_a_small_flags_body_that_inflates_is_still_answered(
    server: LiveServer, client: httpx.Client
) -> None:
    # Too large decoded for the event loop, within the limit: decoded in a thread.
    wide = {"token": server.token, "distinct_id": "u", "person_properties": {"pad": "x" * 100_000}}
    body = gzip.compress(json.dumps(wide).encode())
    assert len(body) < flags_module.KEPT_BODY_LIMIT
    for _ in range(2):  # the second time with the token and flags already kept
        answer = client.post(
            "/flags/?v=2",
            content=body,
            headers={"Content-Type": "text/plain", "Content-Encoding": "gzip"},
        )
        assert answer.status_code == 200, answer.text
        assert "flags" in answer.json()


# -- session recordings --------------------------------------------------------


@pytest.mark.parametrize("path", ["/s", "/s/"])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_recordings_are_refused_with_a_code_posthog_js_does_not_retry(
    server: LiveServer, client: httpx.Client, path: str, method: str
) -> None:
    response = client.request(
        method,
        path,
        content=b"\x1f\x8b" + os.urandom(1000),
        headers={"Origin": "https://a.example"},
    )
    # posthog-js's RetryQueue resends only on network errors and 5xx.
    assert response.status_code == 410
    assert response.json() == {
        "status": 410,
        "code": "recordings_not_supported",
        "error": response.json()["error"],
        "quota_limited": ["recordings"],
    }
    # CORS headers, or the browser would see a network error, which it retries.
    assert response.headers["access-control-allow-origin"] == "https://a.example"


def test_recordings_preflight_succeeds(server: LiveServer, client: httpx.Client) -> None:
    response = client.options(
        "/s/",
        headers={"Origin": "https://a.example", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "https://a.example"


@pytest.mark.parametrize("path", ["/decide/", "/flags/?v=2&config=true"])
def test_remote_config_keeps_recordings_off(
    server: LiveServer, client: httpx.Client, path: str
) -> None:
    response = client.post(path, json={"token": server.token, "distinct_id": "u"})
    assert response.status_code == 200
    assert response.json()["sessionRecording"] is False
