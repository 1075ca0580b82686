"""Helpers shared by the HTTP handlers: bounded body reads and the client's address."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request

from magpie.capture.decoding import WireRequest
from magpie.errors import PayloadTooLarge

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


async def read_body(request: Request, cap: int) -> bytes:
    """The request body, refusing to buffer more than ``cap`` bytes."""
    declared = request.headers.get("content-length")
    # isascii: str.isdigit() also accepts digits int() refuses, such as '²'.
    if declared and declared.isascii() and declared.isdigit() and int(declared) > cap:
        raise PayloadTooLarge(f"request body exceeds {cap} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise PayloadTooLarge(f"request body exceeds {cap} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


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
    request: Request, cap: int, trusted_proxies: Sequence[Network]
) -> WireRequest:
    # Plain dicts: the request may be decoded in another process.
    return WireRequest(
        path=request.url.path,
        method=request.method,
        query=dict(request.query_params),
        headers=dict(request.headers.items()),
        body=await read_body(request, cap),
        client_ip=client_ip(request, trusted_proxies),
    )
