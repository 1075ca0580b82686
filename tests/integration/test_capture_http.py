"""The capture endpoints over real HTTP: paths, body shapes, encodings, errors."""

from __future__ import annotations

import base64
import gzip
import json
import uuid
import zlib
from urllib.parse import quote

import httpx
import lzstring
import pytest

from tests.conftest import LiveServer

pytestmark = pytest.mark.both_modes

PATHS = ["/e", "/i/v0/e", "/batch", "/capture", "/track", "/engage"]


def post(server: LiveServer, path: str, content: bytes | str, **kwargs: object) -> httpx.Response:
    return httpx.post(server.url + path, content=content, timeout=10, **kwargs)  # type: ignore[arg-type]


def batch_body(server: LiveServer, *events: dict) -> bytes:
    return json.dumps({"api_key": server.token, "batch": list(events)}).encode()


def event(name: str = "clicked", distinct_id: object = "user-1", **extra: object) -> dict:
    return {"event": name, "distinct_id": distinct_id, "uuid": str(uuid.uuid4()), **extra}


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("slash", ["", "/"])
def test_every_path_accepts_a_batch(live_server: LiveServer, path: str, slash: str) -> None:
    sent = event("path-test", properties={"path": path + slash})
    response = post(live_server, path + slash, batch_body(live_server, sent))
    assert response.status_code == 200, response.text
    assert response.json() == {"status": 1}
    stored = live_server.events(event="path-test")
    assert [e["uuid"] for e in stored] == [sent["uuid"]]


@pytest.mark.parametrize("path", PATHS)
def test_get_with_data_query(live_server: LiveServer, path: str) -> None:
    sent = event("get-test", properties={"token": live_server.token})
    data = base64.b64encode(json.dumps(sent).encode()).decode()
    response = httpx.get(live_server.url + path + "/", params={"data": data}, timeout=10)
    assert response.status_code == 200, response.text
    assert [e["uuid"] for e in live_server.events(event="get-test")] == [sent["uuid"]]


def test_body_shapes(live_server: LiveServer) -> None:
    array = [
        event("shape-array", token=live_server.token),
        event("shape-array", api_key=live_server.token),
    ]
    single = event("shape-single", api_key=live_server.token)
    batch = {
        "token": live_server.token,
        "batch": [event("shape-batch")],
        "sent_at": "2026-01-01T00:00:00Z",
        "historical_migration": True,
    }
    engage = {"$token": live_server.token, "$distinct_id": "engaged", "$set": {"plan": "pro"}}
    for path, body in [
        ("/e/", array),
        ("/capture/", single),
        ("/batch/", batch),
        ("/engage/", engage),
    ]:
        response = post(live_server, path, json.dumps(body))
        assert response.status_code == 200, (path, response.text)
    names = sorted(e["event"] for e in live_server.events())
    assert names == ["$identify", "shape-array", "shape-array", "shape-batch", "shape-single"]
    identify = live_server.events(event="$identify")[0]
    assert identify["distinct_id"] == "engaged"
    assert identify["properties"]["$set"] == {"plan": "pro"}


def test_engage_shape_only_on_engage_path(live_server: LiveServer) -> None:
    body = json.dumps({"api_key": live_server.token, "distinct_id": "x"})
    response = post(live_server, "/capture/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "missing_event_name"


def gzip_text(server: LiveServer, *events: dict) -> bytes:
    return gzip.compress(batch_body(server, *events))


def lz64(text: str) -> str:
    """LZ-String compressToBase64 (a port of the JS library), to encode test payloads."""
    return str(lzstring.LZString().compressToBase64(text))


ENCODINGS = {
    # posthog-js today: gzip bytes labelled text/plain, no header, no query.
    "gzip-sniffed": lambda s, e: dict(
        content=gzip_text(s, e), headers={"Content-Type": "text/plain"}
    ),
    "gzip-header": lambda s, e: dict(content=gzip_text(s, e), headers={"Content-Encoding": "gzip"}),
    "gzip-js-query": lambda s, e: dict(content=gzip_text(s, e), params={"compression": "gzip-js"}),
    "base64-form": lambda s, e: dict(
        content="data=" + quote(base64.b64encode(batch_body(s, e)).decode()),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        params={"compression": "base64"},
    ),
    "base64-form-unquoted-plus": lambda s, e: dict(
        content="data=" + base64.b64encode(batch_body(s, e)).decode().replace("+", " "),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    "lz64-query": lambda s, e: dict(
        content="data=" + quote(lz64(batch_body(s, e).decode())),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        params={"compression": "lz64"},
    ),
    "lz-string-form": lambda s, e: dict(
        content="data=" + quote(lz64(batch_body(s, e).decode())) + "&compression=lz-string",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    ),
    "plain-json": lambda s, e: dict(
        content=batch_body(s, e), headers={"Content-Type": "application/json"}
    ),
    "raw-base64": lambda s, e: dict(content=base64.b64encode(batch_body(s, e))),
}


@pytest.mark.parametrize("name", sorted(ENCODINGS))
def test_encodings(live_server: LiveServer, name: str) -> None:
    sent = event("enc", properties={"encoding": name, "emoji": "🦜 ü"})
    response = httpx.post(live_server.url + "/e/", timeout=10, **ENCODINGS[name](live_server, sent))
    assert response.status_code == 200, response.text
    stored = live_server.events(event="enc")
    assert [e["uuid"] for e in stored] == [sent["uuid"]]
    assert stored[0]["properties"]["emoji"] == "🦜 ü"


def test_beacon_answers_204(live_server: LiveServer) -> None:
    response = post(live_server, "/e/?beacon=1", batch_body(live_server, event("beacon")))
    assert response.status_code == 204
    assert response.content == b""
    assert len(live_server.events(event="beacon")) == 1


def test_cors_is_permissive(live_server: LiveServer) -> None:
    origin = "https://shop.example"
    preflight = httpx.options(
        live_server.url + "/e/",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
        timeout=10,
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == origin
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    response = post(
        live_server, "/e/", batch_body(live_server, event()), headers={"Origin": origin}
    )
    assert response.headers["access-control-allow-origin"] == origin
    failed = post(live_server, "/e/", b"{", headers={"Origin": origin})
    assert failed.headers["access-control-allow-origin"] == origin


def test_distinct_id_rules(live_server: LiveServer) -> None:
    long_id = "x" * 300
    events = [
        event("ids", distinct_id=23),
        event("ids", distinct_id=["a", "b"]),
        event("ids", distinct_id=" padded "),
        event("ids", distinct_id=long_id),
        event("ids", distinct_id="nul\0id"),
        {"event": "ids", "uuid": str(uuid.uuid4()), "properties": {"distinct_id": "from-props"}},
        {
            "event": "ids",
            "uuid": str(uuid.uuid4()),
            "distinct_id": "top",
            "properties": {"distinct_id": "ignored"},
        },
    ]
    assert post(live_server, "/batch/", batch_body(live_server, *events)).status_code == 200
    stored = sorted(e["distinct_id"] for e in live_server.events(event="ids"))
    assert stored == sorted(
        ["23", '["a","b"]', " padded ", "x" * 200, "nul\ufffdid", "from-props", "top"]
    )


@pytest.mark.parametrize("bad_id", ["", "   ", "\t\n", None])
def test_empty_distinct_id_is_rejected(live_server: LiveServer, bad_id: object) -> None:
    response = post(live_server, "/batch/", batch_body(live_server, event(distinct_id=bad_id)))
    assert response.status_code == 400
    assert response.json() == {
        "status": 400,
        "code": "missing_distinct_id",
        "error": response.json()["error"],
    }


def test_uuid_kept_or_generated_as_v7(live_server: LiveServer) -> None:
    given = str(uuid.uuid4())
    events = [
        {"event": "u", "distinct_id": "d", "uuid": given},
        {"event": "u", "distinct_id": "d", "uuid": ""},
        {"event": "u", "distinct_id": "d"},
    ]
    assert post(live_server, "/batch/", batch_body(live_server, *events)).status_code == 200
    uuids = [uuid.UUID(e["uuid"]) for e in live_server.events(event="u")]
    assert str(uuids[0]) == given or given in map(str, uuids)
    generated = [u for u in uuids if str(u) != given]
    assert len(generated) == 2 and all(u.version == 7 for u in generated)


def test_duplicate_uuids_are_stored_once(live_server: LiveServer) -> None:
    sent = event("dup")
    body = batch_body(live_server, sent, sent)
    for _ in range(3):
        assert post(live_server, "/batch/", body).status_code == 200
    assert len(live_server.events(event="dup")) == 1


def test_token_of_no_project_stores_nothing(live_server: LiveServer) -> None:
    body = json.dumps({"api_key": "phc_unknown", "batch": [event("ghost")]})
    response = post(live_server, "/batch/", body)
    assert response.status_code == 403
    assert response.json()["code"] == "ingest_key_unknown"
    assert live_server.events(event="ghost") == []


TOKEN_CASES = [
    ({"batch": [{"event": "x", "distinct_id": "d"}]}, 401, "ingest_key_required"),
    ({"api_key": "", "batch": [{"event": "x", "distinct_id": "d"}]}, 403, "ingest_key_unknown"),
    (
        {"api_key": "phx_personal", "batch": [{"event": "x", "distinct_id": "d"}]},
        403,
        "ingest_key_unknown",
    ),
    (
        {"api_key": "t" * 65, "batch": [{"event": "x", "distinct_id": "d"}]},
        403,
        "ingest_key_unknown",
    ),
    (
        {"api_key": "tökén", "batch": [{"event": "x", "distinct_id": "d"}]},
        403,
        "ingest_key_unknown",
    ),
    ({"api_key": 42, "batch": [{"event": "x", "distinct_id": "d"}]}, 403, "ingest_key_unknown"),
    (
        [
            {"event": "x", "distinct_id": "d", "token": "a"},
            {"event": "x", "distinct_id": "d", "token": "b"},
        ],
        400,
        "unroutable_events",
    ),
]


@pytest.mark.parametrize(("body", "status", "code"), TOKEN_CASES)
def test_token_rules(live_server: LiveServer, body: object, status: int, code: str) -> None:
    response = post(live_server, "/batch/", json.dumps(body))
    assert (response.status_code, response.json()["code"]) == (status, code)


def test_token_whitespace_is_trimmed(live_server: LiveServer) -> None:
    body = json.dumps({"api_key": f"  {live_server.token}\n", "batch": [event("trim")]})
    assert post(live_server, "/batch/", body).status_code == 200


def bad_bodies(token: str) -> list[tuple[str, bytes, int, str]]:
    ok_event = {"event": "x", "distinct_id": "d"}
    nested: object = {"leaf": 1}
    for _ in range(400):
        nested = {"n": nested}
    return [
        ("empty", b"", 400, "request_decoding_error"),
        ("malformed json", b'{"api_key": ', 400, "request_parsing_error"),
        ("invalid utf-8", b'{"api_key": "\xff\xfe"}', 400, "request_decoding_error"),
        ("lone surrogate", b'{"api_key": "\\ud800"}', 400, "request_parsing_error"),
        (
            "truncated gzip",
            gzip.compress(json.dumps({"api_key": token, "batch": [ok_event]}).encode())[:-12],
            400,
            "request_decoding_error",
        ),
        ("bad gzip", b"\x1f\x8b\x08garbage", 400, "request_decoding_error"),
        (
            "huge number",
            json.dumps({"api_key": token, "batch": [ok_event]})
            .encode()
            .replace(b'"d"}', b'"d", "properties": {"n": 1e999}}'),
            400,
            "request_parsing_error",
        ),
        ("number body", b"42", 400, "request_parsing_error"),
        ("string body", b'"hello"', 400, "request_parsing_error"),
        ("null body", b"null", 400, "request_parsing_error"),
        ("empty batch", json.dumps({"api_key": token, "batch": []}).encode(), 400, "empty_batch"),
        (
            "batch not a list",
            json.dumps({"api_key": token, "batch": {}}).encode(),
            400,
            "request_parsing_error",
        ),
        (
            "event not object",
            json.dumps({"api_key": token, "batch": [1]}).encode(),
            400,
            "request_parsing_error",
        ),
        (
            "missing event",
            json.dumps({"api_key": token, "batch": [{"distinct_id": "d"}]}).encode(),
            400,
            "missing_event_name",
        ),
        (
            "event not string",
            json.dumps({"api_key": token, "batch": [{"event": 5, "distinct_id": "d"}]}).encode(),
            400,
            "request_parsing_error",
        ),
        (
            "properties not object",
            json.dumps({"api_key": token, "batch": [{**ok_event, "properties": [1]}]}).encode(),
            400,
            "request_parsing_error",
        ),
        (
            "invalid uuid",
            json.dumps({"api_key": token, "batch": [{**ok_event, "uuid": "nope"}]}).encode(),
            400,
            "request_parsing_error",
        ),
        (
            "offset not int",
            json.dumps({"api_key": token, "batch": [{**ok_event, "offset": "5"}]}).encode(),
            400,
            "request_parsing_error",
        ),
        (
            "set not object",
            json.dumps({"api_key": token, "batch": [{**ok_event, "$set": "x"}]}).encode(),
            400,
            "request_parsing_error",
        ),
        (
            "cookieless not bool",
            json.dumps(
                {
                    "api_key": token,
                    "batch": [{**ok_event, "properties": {"$cookieless_mode": "yes"}}],
                }
            ).encode(),
            400,
            "invalid_cookieless_mode",
        ),
        (
            "deeply nested",
            json.dumps(
                {"api_key": token, "batch": [{**ok_event, "properties": {"deep": nested}}]}
            ).encode(),
            400,
            "request_parsing_error",
        ),
        (
            "only performance events",
            json.dumps(
                {"api_key": token, "batch": [{**ok_event, "event": "$performance_event"}]}
            ).encode(),
            400,
            "empty_batch",
        ),
        ("bad base64", b"data=!!!notbase64", 400, "request_parsing_error"),
    ]


def test_bad_input_gets_a_stable_error_and_never_a_500(live_server: LiveServer) -> None:
    for name, body, status, code in bad_bodies(live_server.token):
        response = post(live_server, "/batch/", body)
        assert response.status_code == status, (name, response.text)
        payload = response.json()
        assert payload["code"] == code, (name, payload)
        assert payload["status"] == status and payload["error"], name
    assert live_server.events() == []


def test_size_limits_apply_after_decompression(live_server: LiveServer) -> None:
    big = {"event": "big", "distinct_id": "d", "properties": {"blob": "x" * (3 * 1024 * 1024)}}
    body = gzip.compress(batch_body(live_server, big))
    assert len(body) < 100_000
    response = post(live_server, "/e/", body)
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    # /batch allows 20 MiB.
    assert post(live_server, "/batch/", body).status_code == 200


def test_gzip_bomb_is_refused_without_inflating_it(live_server: LiveServer) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    chunk = b"\0" * (1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(1024)) + compressor.flush()
    assert len(bomb) < 2 * 1024 * 1024  # 1 GiB of zeros
    response = post(live_server, "/batch/", bomb)
    assert response.status_code == 413


def test_raw_body_over_the_cap_is_refused(live_server: LiveServer) -> None:
    response = post(live_server, "/e/", b"x" * (4 * 1024 * 1024))
    assert response.status_code == 413


def test_top_level_set_and_ip(live_server: LiveServer) -> None:
    sent = event(
        "setter",
        **{"$set": {"a": 1}, "$set_once": {"b": 2}, "properties": {"$set": {"a": 0, "c": 3}}},
    )
    assert post(live_server, "/batch/", batch_body(live_server, sent)).status_code == 200
    stored = live_server.events(event="setter")[0]
    assert stored["properties"]["$set"] == {"a": 1, "c": 3}
    assert stored["properties"]["$set_once"] == {"b": 2}
    assert stored["properties"]["$ip"] == "127.0.0.1"


def test_forwarded_for_is_ignored_unless_trusted(live_server: LiveServer) -> None:
    sent = event("fwd")
    headers = {"X-Forwarded-For": "203.0.113.9"}
    assert (
        post(live_server, "/batch/", batch_body(live_server, sent), headers=headers).status_code
        == 200
    )
    assert live_server.events(event="fwd")[0]["properties"]["$ip"] == "127.0.0.1"


def test_forwarded_for_is_believed_from_a_trusted_proxy(tmp_path) -> None:
    from tests.conftest import running_live_server

    with running_live_server(tmp_path / "d", trusted_proxies=_loopback()) as live:
        headers = {"X-Forwarded-For": "198.51.100.7, 127.0.0.1"}
        body = batch_body(live, event("fwd2"))
        assert post(live, "/batch/", body, headers=headers).status_code == 200
        assert live.events(event="fwd2")[0]["properties"]["$ip"] == "198.51.100.7"


def _loopback() -> tuple:
    import ipaddress

    return (ipaddress.ip_network("127.0.0.0/8"),)
