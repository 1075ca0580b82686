"""``MAGPIE_QUEUE_URL`` for JetStream: ``nats://[user:password@]host[:port]/STREAM``.

``tls://`` is the same with TLS. The path is the name of the stream Magpie
creates and the first token of every subject it uses, so several Magpies can
share one NATS server, each under a name of its own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

DEFAULT_PORT = 4222
_SCHEMES = ("nats", "tls")
# A stream name is also a subject token and a KV bucket name: letters, digits,
# '_' and '-' only (no '.', '*', '>', whitespace or path separators).
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class InvalidQueueUrl(ValueError):
    """The queue URL cannot be used; the message says what is wrong with it."""


@dataclass(frozen=True)
class QueueUrl:
    scheme: str
    host: str
    port: int
    stream: str
    user: str | None = None
    password: str | None = None

    @property
    def server(self) -> str:
        """The server address as nats-py takes it (credentials are passed apart)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"

    @property
    def tls(self) -> bool:
        return self.scheme == "tls"


def parse_queue_url(url: str) -> QueueUrl:
    parts = urlsplit(url.strip())
    if parts.scheme not in _SCHEMES:
        raise InvalidQueueUrl(
            f"queue URL {_safe(url)!r}: the scheme must be nats:// or tls://"
            f" (nats://host:4222/STREAM)"
        )
    try:
        port = parts.port or DEFAULT_PORT
    except ValueError as exc:
        raise InvalidQueueUrl(f"queue URL {_safe(url)!r}: the port is not a number") from exc
    if not parts.hostname:
        raise InvalidQueueUrl(f"queue URL {_safe(url)!r} names no host (nats://host:4222/STREAM)")
    stream = parts.path.strip("/")
    if not stream:
        raise InvalidQueueUrl(
            f"queue URL {_safe(url)!r} names no stream: add it as the path (nats://host:4222/STREAM)"
        )
    if not _NAME.match(stream):
        raise InvalidQueueUrl(
            f"queue URL {_safe(url)!r}: the stream name {stream!r} may hold only letters, digits,"
            " '_' and '-' (at most 64)"
        )
    if parts.query or parts.fragment:
        raise InvalidQueueUrl(f"queue URL {_safe(url)!r}: no query or fragment is understood")
    return QueueUrl(
        scheme=parts.scheme,
        host=parts.hostname,
        port=port,
        stream=stream,
        user=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def _safe(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url.strip())
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)
