"""One HTTP POST, with the standard library only.

The transport knows nothing about batching or retries; it either returns the
server's answer (any status) or raises :class:`TransportError` when no answer
arrived. Tests and unusual environments pass their own object with the same
``post`` method to ``Client(transport=...)``.
"""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol


class TransportError(Exception):
    """No HTTP answer: connection refused or reset, DNS failure, timeout, TLS error.
    Always worth a retry."""


@dataclass(frozen=True)
class Response:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """A header by case-insensitive name."""
        wanted = name.lower()
        for key, value in self.headers.items():
            if key.lower() == wanted:
                return value
        return None


class Transport(Protocol):
    def post(
        self, url: str, body: bytes, headers: Mapping[str, str], timeout: float
    ) -> Response: ...


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib would follow a 301/302/303 on a POST as a body-less GET, and the
    # events would vanish behind a 200. Surface the 3xx instead.
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class UrllibTransport:
    """POSTs with urllib, which also honours the usual HTTP(S)_PROXY / NO_PROXY
    variables that desktop users behind corporate proxies rely on."""

    def __init__(self) -> None:
        self._opener = urllib.request.build_opener(_NoRedirects())

    def post(self, url: str, body: bytes, headers: Mapping[str, str], timeout: float) -> Response:
        request = urllib.request.Request(url, data=body, headers=dict(headers), method="POST")
        try:
            with self._opener.open(request, timeout=timeout) as reply:
                return Response(reply.status, dict(reply.headers.items()), reply.read())
        except urllib.error.HTTPError as error:
            # A non-2xx answer is still an answer: the caller decides on retries.
            try:
                payload = _read_quietly(error)
            finally:
                error.close()
            return Response(error.code, dict(error.headers.items()), payload)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            # OSError covers URLError, timeouts, refused and reset connections;
            # HTTPException a garbled answer; ValueError an unusable URL.
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc


def _read_quietly(error: urllib.error.HTTPError) -> bytes:
    try:
        return error.read()
    except (OSError, http.client.HTTPException):
        return b""
