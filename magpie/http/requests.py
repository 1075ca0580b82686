"""Helpers shared by the HTTP handlers: bounded body reads and the client's address."""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence

from starlette.requests import Request

from magpie.capture.decoding import WireRequest
from magpie.errors import PayloadTooLarge

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# Called with the body's declared size and its first bytes, before the rest is
# read: it raises to refuse the request without reading megabytes.
StartCheck = Callable[[int, bytes], None]


async def read_body(request: Request, cap: int, check_start: StartCheck | None = None) -> bytes:
    """The request body, refusing to buffer more than ``cap`` bytes."""
    declared = declared_length(request)
    if declared is not None and declared > cap:
        raise PayloadTooLarge(f"request body exceeds {cap} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(f"request body exceeds {cap} bytes")
        if check_start is not None and chunk:
            check_start(declared if declared is not None else size, chunk[:2])
            check_start = None
        chunks.append(chunk)
    return b"".join(chunks)


def declared_length(request: Request) -> int | None:
    declared = request.headers.get("content-length")
    # isascii: str.isdigit() also accepts digits int() refuses, such as '²'.
    if declared and declared.isascii() and declared.isdigit():
        return int(declared)
    return None


def client_ip(request: Request, trusted_proxies: Sequence[Network]) -> str | None:
    """The peer's address; X-Forwarded-For is believed only from trusted proxies."""
    peer = request.client.host if request.client else None
    if not trusted_proxies or peer is None or not _is_trusted(peer, trusted_proxies):
        return peer
    forwarded = request.headers.get("x-forwarded-for", "")
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    # Walk from the nearest hop outwards; the first untrusted address is the client.
    for hop in reversed(hops):
        if not _is_trusted(hop, trusted_proxies):
            return hop
    return hops[0] if hops else peer


def _is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


async def wire_request(
    request: Request,
    cap: int,
    trusted_proxies: Sequence[Network],
    check_start: StartCheck | None = None,
) -> WireRequest:
    # Plain dicts: the request may be decoded in another process.
    return WireRequest(
        path=request.url.path,
        method=request.method,
        query=dict(request.query_params),
        headers=dict(request.headers.items()),
        body=await read_body(request, cap, check_start),
        client_ip=client_ip(request, trusted_proxies),
    )
