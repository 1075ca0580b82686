"""Decoding is linear in its input and bounded per request, whatever the bytes."""

from __future__ import annotations

import gzip
import os
import re
from datetime import UTC, datetime

import lzstring
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from magpie.capture import decoding
from magpie.capture.decoder import CaptureLimits, LightBudget, TooHeavy, decode_v0, decode_v1
from magpie.capture.decoding import LZ64_INPUT_LIMIT, WireRequest, decode_payload
from magpie.errors import PayloadTooLarge, UnsupportedEncoding
from magpie.http.flags import decode_flags_body

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
LIMITS = CaptureLimits(20 * 1024 * 1024, 2 * 1024 * 1024)
# The check capture used to make: allowing spaces both inside the text and
# after it makes it backtrack quadratically on a long run of spaces.
OLD_BASE64 = re.compile(rb"^[A-Za-z0-9+/\-_\s]+={0,2}\s*$")
HOSTILE = b"A" + b" " * 5_000_000 + b"!"


def request(
    body: bytes,
    path: str = "/batch/",
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> WireRequest:
    return WireRequest(path, "POST", query or {}, headers or {}, body)


def batch(events: int, token: str = "phc_test") -> bytes:
    return orjson.dumps(
        {"api_key": token, "batch": [{"event": "e", "distinct_id": "d"} for _ in range(events)]}
    )


def old_looks_like_base64(data: bytes) -> bool:
    stripped = data.strip()
    return bool(stripped) and stripped[:1] not in (b"{", b"[") and bool(OLD_BASE64.match(stripped))


@given(st.binary(max_size=40) | st.text("AZaz09+/-_= \t\n\r{[!", max_size=40).map(str.encode))
def test_the_base64_check_answers_as_before(data: bytes) -> None:
    assert decoding.looks_like_base64(data) == old_looks_like_base64(data)


@pytest.mark.timeout(30)  # the old check would run for days on this input
def test_the_base64_check_is_linear_on_a_run_of_spaces() -> None:
    assert decoding.looks_like_base64(HOSTILE) is False
    # The same input by every way in: text body, form data=, ?data=, tabs.
    form = b"data=" + HOSTILE.replace(b" ", b"+")
    for wire in (
        request(HOSTILE, "/e/", headers={"content-type": "text/plain"}),
        request(form, "/e/", headers={"content-type": "application/x-www-form-urlencoded"}),
        request(b"", "/e/", query={"data": HOSTILE.decode()}),
        request(HOSTILE.replace(b" ", b"\t"), "/e/"),
    ):
        assert decode_payload(wire, 8 * 1024 * 1024, legacy_path=True).startswith(b"A")


def lz64(text: str) -> bytes:
    return str(lzstring.LZString().compressToBase64(text)).encode()


def test_lz64_over_its_input_cap_is_refused_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[int] = []
    monkeypatch.setattr(
        decoding, "decompress_from_base64", lambda text, limit: calls.append(len(text)) or b"{}"
    )
    big = b"A" * (LZ64_INPUT_LIMIT + 1)
    with pytest.raises(PayloadTooLarge, match="lz64"):
        decode_payload(
            request(big, query={"compression": "lz64"}), LIMITS.batch_body, legacy_path=False
        )
    assert calls == []
    decode_payload(
        request(b"A" * LZ64_INPUT_LIMIT, query={"compression": "lz64"}),
        LIMITS.batch_body,
        legacy_path=False,
    )
    assert calls == [LZ64_INPUT_LIMIT]


def test_lz64_within_its_cap_still_decodes() -> None:
    body = lz64(batch(3).decode())
    decoded = decode_v0(request(body, query={"compression": "lz64"}), LIMITS, NOW)
    assert decoded.count == 3


@pytest.mark.parametrize(
    ("name", "wire"),
    [
        ("a large body", request(b" " * (LightBudget().raw_bytes + 1) + batch(1))),
        (
            "a gzip body that inflates past the light budget",
            request(gzip.compress(b" " * 300_000 + batch(1))),
        ),
        (
            "more events than the light budget",
            request(gzip.compress(batch(LightBudget().events + 1))),
        ),
        (
            "lz64, which is pure Python",
            request(lz64(batch(1).decode()), query={"compression": "lz64"}),
        ),
        ("a large ?data=", request(b"", query={"data": "A" * 400_000})),
    ],
)
def test_the_light_budget_sends_costly_requests_elsewhere(name: str, wire: WireRequest) -> None:
    with pytest.raises(TooHeavy):
        decode_v0(wire, LIMITS, NOW, LightBudget())
    v1 = WireRequest("/i/v1/analytics/events", "POST", wire.query, wire.headers, wire.body)
    with pytest.raises(TooHeavy):
        decode_v1(v1, LIMITS, NOW, LightBudget())


def test_ordinary_sdk_requests_fit_the_light_budget() -> None:
    # posthog-python's default batch: 100 events with a few properties each.
    events = [
        {
            "event": "$pageview",
            "distinct_id": f"user-{i}",
            "properties": {"$current_url": "https://example.com/pricing", "$lib": "posthog-python"},
            "timestamp": "2026-06-01T11:59:00+00:00",
        }
        for i in range(100)
    ]
    body = orjson.dumps({"api_key": "phc_test", "batch": events})
    assert decode_v0(request(body), LIMITS, NOW, LightBudget()).count == 100
    assert decode_v0(request(gzip.compress(body), "/e/"), LIMITS, NOW, LightBudget()).count == 100


def test_the_light_budget_does_not_hide_a_limit_below_it() -> None:
    small = CaptureLimits(1000, 1000)
    with pytest.raises(PayloadTooLarge):
        decode_v0(request(gzip.compress(b" " * 2000 + batch(1))), small, NOW, LightBudget())


def test_events_per_request_are_capped() -> None:
    limits = CaptureLimits(LIMITS.batch_body, LIMITS.event_body, events_per_request=50)
    assert decode_v0(request(batch(50)), limits, NOW).count == 50
    with pytest.raises(PayloadTooLarge, match="at most 50 events"):
        decode_v0(request(batch(51)), limits, NOW)


def test_flags_bodies_refuse_lz64_and_take_gzip() -> None:
    body = orjson.dumps({"token": "phc_test", "distinct_id": "u"})
    with pytest.raises(UnsupportedEncoding):
        decode_flags_body(request(lz64(body.decode()), "/flags/", query={"compression": "lz64"}))
    assert decode_flags_body(request(gzip.compress(body), "/flags/"))["distinct_id"] == "u"


def test_a_large_lz64_body_is_refused_inline_not_shipped_to_the_decode_process() -> None:
    big = request(b"A" * (LightBudget().raw_bytes + 1), query={"compression": "lz64"})
    with pytest.raises(PayloadTooLarge, match="lz64"):
        decode_v0(big, LIMITS, NOW, LightBudget())
    # A gzip body hinted lz64 is gzip: judged by the decode process once inflated.
    gzipped = request(gzip.compress(os.urandom(400_000)), query={"compression": "lz64"})
    with pytest.raises(TooHeavy):
        decode_v0(gzipped, LIMITS, NOW, LightBudget())
