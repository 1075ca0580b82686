"""Wire decoding: request body or ``?data=`` → JSON bytes, whatever encoding the SDK chose.

PostHog's rules (compat §1.5): gzip is sniffed from its magic bytes whatever the
headers say; form bodies carry the payload in ``data``; the compression hint
comes from the query, the form or ``Content-Encoding``; base64 is decoded
optimistically. Every decompressor is capped at the endpoint's limit while it
runs, so a gzip bomb costs at most ``limit`` bytes of memory, and every step
is linear in its input: the bytes come from anyone on the internet.
"""

from __future__ import annotations

import base64
import binascii
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs

from magpie.capture.lzstring import decompress_from_base64
from magpie.errors import PayloadTooLarge, RequestDecodingError

GZIP_MAGIC = b"\x1f\x8b"
# Both base64 alphabets, and the ASCII whitespace that bytes.strip() removes.
_BASE64_TEXT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_ \t\n\r\x0b\x0c"
# LZ-String is decoded in pure Python at about a microsecond per input
# character, so its input is capped far below the endpoint limits. Only
# posthog-js versions from before gzip support send it, in small batches;
# Magpie's remote config offers gzip, which every later version uses.
LZ64_INPUT_LIMIT = 64 * 1024

Decoder = Callable[[bytes, int], bytes]
_FORM = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class WireRequest:
    """What capture needs from an HTTP request, independent of the web framework."""

    path: str
    method: str
    query: Mapping[str, str]
    headers: Mapping[str, str]  # lower-case names
    body: bytes
    client_ip: str | None = None


def decode_payload(
    request: WireRequest,
    limit: int,
    *,
    legacy_path: bool,
    decoders: Mapping[str, Decoder] | None = None,
) -> bytes:
    """Return the decoded JSON bytes of a capture request, at most ``limit`` bytes long.

    ``decoders`` maps a compression hint to its decoder (DECODERS by default):
    callers replace one to refuse it, or to send it elsewhere.
    """
    payload, form_hint = _raw_payload(request)
    if not payload.strip():
        raise RequestDecodingError("empty payload")
    hint = compression_hint(request, form_hint)
    decoded = (DECODERS if decoders is None else decoders).get(hint, _plain)(payload, limit)
    if legacy_path and looks_like_base64(decoded):
        decoded = _after_base64(decoded, limit)
    if len(decoded) > limit:
        raise PayloadTooLarge(f"payload exceeds {limit} bytes")
    return decoded


def compression_hint(request: WireRequest, form_hint: str | None = None) -> str:
    return _hint(request.query, request.headers, form_hint)


def _hint(
    query: Mapping[str, str], headers: Mapping[str, str], form_hint: str | None = None
) -> str:
    raw = query.get("compression") or form_hint or headers.get("content-encoding") or ""
    return _HINT_ALIASES.get(raw.strip().lower(), "")


def _raw_payload(request: WireRequest) -> tuple[bytes, str | None]:
    data = request.query.get("data")
    if data:
        # Query parsing turned an unescaped '+' of base64 into a space.
        return _restore_plus(data.encode("utf-8", "replace")), None
    content_type = request.headers.get("content-type", "")
    if content_type.startswith(_FORM):
        return _form_payload(request.body)
    return request.body, None


def _form_payload(body: bytes) -> tuple[bytes, str | None]:
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise RequestDecodingError("form body is not valid UTF-8") from None
    if "data" not in form:
        # Some clients label plain JSON as a form; let the JSON parser judge it.
        return body, None
    compression = form.get("compression", [None])[0]
    return _restore_plus(form["data"][0].encode("utf-8")), compression


def _restore_plus(data: bytes) -> bytes:
    return data.replace(b" ", b"+") if looks_like_base64(data) else data


def looks_like_base64(data: bytes) -> bool:
    """Base64 text of either alphabet, whitespace allowed, ending in at most two ``=``.

    One ``translate`` over the bytes, so linear in their length. (A regular
    expression allowing whitespace both inside the text and after it
    backtracks quadratically on a long run of spaces that ends badly.)
    """
    stripped = data.strip()
    if not stripped or stripped[:1] in (b"{", b"["):
        return False
    text = stripped.rstrip(b"=")
    if not text or len(stripped) - len(text) > 2:
        return False
    return not text.translate(None, _BASE64_TEXT)


def _plain(payload: bytes, limit: int) -> bytes:
    """Sniff the encoding: gzip by magic bytes, base64 by alphabet, else JSON as is."""
    if payload.startswith(GZIP_MAGIC):
        return gunzip(payload, limit)
    if looks_like_base64(payload):
        return _after_base64(payload, limit)
    return payload


def _after_base64(payload: bytes, limit: int) -> bytes:
    """Base64 is decoded optimistically: when the result is neither JSON nor gzip,
    the payload was not base64 after all (``42`` looks like base64) and stays as it is."""
    try:
        decoded = _b64decode(payload)
    except RequestDecodingError:
        return payload
    if decoded.startswith(GZIP_MAGIC):
        return gunzip(decoded, limit)
    return decoded if decoded.lstrip()[:1] in (b"{", b"[") else payload


def refuse_large_lz64(
    query: Mapping[str, str], headers: Mapping[str, str], size: int, head: bytes
) -> None:
    """Refuse an lz64 body over its cap from the hint, its size and first bytes alone.

    Only a body that is the payload itself (no form, no ``?data=``, not gzip):
    anything else is judged once decoded. ``head`` is the body's first bytes,
    so that the HTTP layer can refuse before reading megabytes.
    """
    if (
        size > LZ64_INPUT_LIMIT
        and _hint(query, headers) == "lz64"
        and not query.get("data")
        and not headers.get("content-type", "").startswith(_FORM)
        and not GZIP_MAGIC.startswith(head[:2])  # gzip is sniffed whatever the hint
    ):
        raise _lz64_too_large()


def _lz64_too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"lz64 payloads are limited to {LZ64_INPUT_LIMIT // 1024} KiB; send gzip instead"
    )


def _lz64(payload: bytes, limit: int) -> bytes:
    if payload.startswith(GZIP_MAGIC):
        return gunzip(payload, limit)
    if len(payload) > LZ64_INPUT_LIMIT:
        raise _lz64_too_large()
    try:
        text = payload.decode("ascii")
    except UnicodeDecodeError:
        raise RequestDecodingError("lz64 payload is not ASCII") from None
    return decompress_from_base64(text, limit)


def _deflate(payload: bytes, limit: int) -> bytes:
    if payload.startswith(GZIP_MAGIC):
        return gunzip(payload, limit)
    return _inflate(zlib.decompressobj(), payload, limit, "deflate")


def gunzip(payload: bytes, limit: int) -> bytes:
    return _inflate(zlib.decompressobj(wbits=31), payload, limit, "gzip")


def _inflate(inflater: zlib._Decompress, payload: bytes, limit: int, name: str) -> bytes:
    try:
        out = inflater.decompress(payload, limit + 1)
    except zlib.error as exc:
        raise RequestDecodingError(f"invalid {name} data: {exc}") from None
    if len(out) > limit:
        raise PayloadTooLarge(f"decompressed payload exceeds {limit} bytes")
    if not inflater.eof:
        raise RequestDecodingError(f"truncated {name} data")
    return out


def _b64decode(data: bytes) -> bytes:
    compact = b"".join(data.split()).rstrip(b"=")
    compact = compact.replace(b"-", b"+").replace(b"_", b"/")
    try:
        return base64.b64decode(compact + b"=" * (-len(compact) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise RequestDecodingError("invalid base64 payload") from None


_HINT_ALIASES = {
    "gzip": "gzip",
    "gzip-js": "gzip",
    "lz64": "lz64",
    "lz-string": "lz64",
    "base64": "base64",
    "b64": "base64",
    "deflate": "deflate",
}

# gzip and base64 need no entry: both are recognised from the bytes themselves.
DECODERS: Mapping[str, Decoder] = {
    "lz64": _lz64,
    "deflate": _deflate,
}
