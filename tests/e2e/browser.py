"""Helpers for driving the official posthog-js in headless Debian Chromium.

- ``Site``: a small HTTP server on 127.0.0.1 serving the test pages and
  posthog-js's ``dist/`` from ``tests/e2e/node_modules`` (installed from the
  lock file by ``npm ci --prefix tests/e2e``; see scripts/ensure-browser).
- ``Watch``: what a page did: console messages, page errors, and every request
  to Magpie with its body decoded the way Magpie decodes it.
- ``wait_for_events``: polls Magpie's events API until the browser's events land.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.conftest import LiveServer

E2E_DIR = Path(__file__).resolve().parent
POSTHOG_JS = E2E_DIR / "node_modules" / "posthog-js"
POSTHOG_DIST = POSTHOG_JS / "dist"
SKIP_ENV = "MAGPIE_SKIP_BROWSER"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]
SETUP_HINT = (
    "run scripts/ensure-browser (apt-get install chromium; npm ci --prefix tests/e2e), "
    f"or set {SKIP_ENV}=1 to skip the browser tests"
)

# The page every test loads. The test puts its init options in
# window.__MAGPIE_E2E__ (Playwright init script) before the page's scripts run.
PAGE = """<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>%(title)s</title>
<script src="/posthog-js/array.js"></script>
</head>
<body>
<h1>%(title)s</h1>
<a id="next" href="/next.html">next page</a>
<a id="away" href="/plain.html">a page without posthog</a>
<script>
  const setup = window.__MAGPIE_E2E__;
  posthog.init(setup.token, Object.assign({}, setup.options, {
    loaded: function () { window.__posthogLoaded = true; },
  }));
</script>
</body>
</html>
"""
PLAIN = "<!doctype html><html><head><title>plain</title></head><body>no posthog</body></html>"


def chromium_path() -> str | None:
    return shutil.which("chromium")


def skip_requested() -> bool:
    return os.environ.get(SKIP_ENV, "") not in ("", "0")


def posthog_js_version() -> str:
    return str(json.loads((POSTHOG_JS / "package.json").read_text())["version"])


def pinned_posthog_js_version() -> str:
    return str(json.loads((E2E_DIR / "package.json").read_text())["dependencies"]["posthog-js"])


class Site:
    """Serves the test pages and posthog-js's bundles, like a customer's website would."""

    def __init__(self) -> None:
        self.served: list[str] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                path = urlsplit(self.path).path
                site.served.append(path)
                if path in ("/", "/index.html"):
                    self._send(200, "text/html", (PAGE % {"title": "first page"}).encode())
                elif path == "/next.html":
                    self._send(200, "text/html", (PAGE % {"title": "next page"}).encode())
                elif path == "/plain.html":
                    self._send(200, "text/html", PLAIN.encode())
                elif path.startswith("/posthog-js/") and ".." not in path:
                    file = POSTHOG_DIST / path.removeprefix("/posthog-js/")
                    if file.is_file():
                        self._send(200, "application/javascript", file.read_bytes())
                    else:
                        self._send(404, "text/plain", b"not found")
                elif path == "/favicon.ico":
                    self._send(204, "image/x-icon", b"")
                else:
                    self._send(404, "text/plain", b"not found")

            def _send(self, status: int, content_type: str, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


# -- the wire ---------------------------------------------------------------------


def decode_body(body: bytes, content_type: str, query: dict[str, list[str]]) -> Any:
    """A capture or /flags body as Magpie reads it: gzip (sniffed), base64 form data, or JSON."""
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = parse_qs(body.decode())
        body = form["data"][0].encode()
        compression = (form.get("compression") or query.get("compression") or [""])[0]
        if compression in ("base64", "b64") or not body.lstrip().startswith((b"{", b"[")):
            body = base64.b64decode(body + b"=" * (-len(body) % 4))
    if body[:2] == b"\x1f\x8b":
        body = gzip.decompress(body)
    return json.loads(body)


@dataclass
class WireRequest:
    method: str
    url: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    resource_type: str
    status: int | None = None
    failure: str | None = None
    finished: bool = False

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")

    def payload(self) -> Any:
        return decode_body(self.body, self.content_type, self.query) if self.body else None

    def events(self) -> list[dict[str, Any]]:
        payload = self.payload()
        if isinstance(payload, dict) and isinstance(payload.get("batch"), list):
            return list(payload["batch"])
        if isinstance(payload, list):
            return payload
        if isinstance(payload, dict) and "event" in payload:
            return [payload]
        return []


CAPTURE_PATHS = ("/e/", "/i/v0/e/", "/batch/")

# posthog-js warnings (shown in debug mode only) that are expected against Magpie.
EXPECTED_WARNINGS = (
    # Magpie's remote config leaves `surveys` out so that posthog-js does not
    # fetch the surveys bundle from Magpie (magpie/flags/responses.py).
    "[Surveys] Flags not loaded yet. Not loading surveys.",
)


@dataclass
class Watch:
    """Everything a page did that a test asserts on."""

    magpie_origin: str
    console: list[tuple[str, str]] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[WireRequest] = field(default_factory=list)
    _by_request: dict[Any, WireRequest] = field(default_factory=dict)

    def attach(self, page: Any) -> None:
        page.on("console", lambda message: self.console.append((message.type, message.text)))
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", self._on_request)
        page.on("response", self._on_response)
        page.on("requestfinished", self._on_finished)
        page.on("requestfailed", self._on_failed)

    def _ours(self, url: str) -> bool:
        return url.startswith(self.magpie_origin + "/")

    def _on_request(self, request: Any) -> None:
        if not self._ours(request.url):
            return
        parts = urlsplit(request.url)
        wire = WireRequest(
            method=request.method,
            url=request.url,
            path=parts.path,
            query=parse_qs(parts.query),
            headers={k.lower(): v for k, v in request.headers.items()},
            body=request.post_data_buffer or b"",
            resource_type=request.resource_type,
        )
        self.requests.append(wire)
        self._by_request[request] = wire

    def _on_response(self, response: Any) -> None:
        wire = self._by_request.get(response.request)
        if wire is not None:
            wire.status = response.status

    def _on_finished(self, request: Any) -> None:
        wire = self._by_request.get(request)
        if wire is not None:
            wire.finished = True

    def _on_failed(self, request: Any) -> None:
        wire = self._by_request.get(request)
        if wire is not None:
            wire.failure = request.failure or "failed"
            wire.finished = True

    # -- views ---------------------------------------------------------------

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def captures(self) -> list[WireRequest]:
        return [r for r in self.requests if r.path in CAPTURE_PATHS]

    def captured_events(self) -> list[dict[str, Any]]:
        return [e for r in self.captures() for e in r.events()]

    def pending(self) -> list[WireRequest]:
        return [r for r in self.requests if not r.finished]

    def wait_idle(self, page: Any, timeout: float = 10.0) -> None:
        """Wait until no request to Magpie is in flight (Playwright events need the page's loop)."""
        deadline = time.monotonic() + timeout
        while self.pending() and not page.is_closed():
            if time.monotonic() > deadline:
                raise AssertionError(f"requests still in flight: {self.pending()}")
            page.wait_for_timeout(50)

    def wait_for_path(self, page: Any, path: str, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while path not in self.paths():
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never requested {path}: {self.paths()}")
            page.wait_for_timeout(50)

    def problems(
        self,
        stored_uuids: set[str],
        allowed_console: Callable[[str, str], bool] | None = None,
    ) -> list[str]:
        """Console errors and warnings from posthog, page errors, failed, 4xx/5xx or
        retried requests, events sent twice.

        A keepalive fetch still in flight when the page navigates away is reported
        to the page as aborted (net::ERR_ABORTED) while the browser goes on sending
        it; such a capture request is fine when Magpie stored all of its events.
        """
        found: list[str] = []
        for kind, text in self.console:
            if allowed_console is not None and allowed_console(kind, text):
                continue
            if kind == "warning" and any(known in text for known in EXPECTED_WARNINGS):
                continue
            if kind == "error" or (kind == "warning" and "[PostHog.js]" in text):
                found.append(f"console {kind}: {text}")
        found += [f"page error: {e}" for e in self.page_errors]
        for r in self.requests:
            if r.failure is not None:
                outlived_page = (
                    r.failure == "net::ERR_ABORTED"
                    and r.path in CAPTURE_PATHS
                    and {str(e.get("uuid")) for e in r.events()} <= stored_uuids
                )
                if not outlived_page:
                    found.append(f"{r.method} {r.url} failed: {r.failure}")
            elif r.status is not None and r.status >= 400:
                found.append(f"{r.method} {r.url} answered {r.status}")
            if "retry_count" in r.query:
                found.append(f"{r.method} {r.url} is a retry")
        uuids = [e.get("uuid") for e in self.captured_events()]
        duplicates = {u for u in uuids if uuids.count(u) > 1}
        if duplicates:
            found.append(f"events sent more than once: {sorted(map(str, duplicates))}")
        return found


# -- Magpie --------------------------------------------------------------------------


def wait_for_events(
    server: LiveServer,
    ready: Callable[[list[dict[str, Any]]], bool],
    timeout: float = 15.0,
    what: str = "events",
) -> list[dict[str, Any]]:
    """Poll Magpie until ``ready(events)``; events are oldest first."""
    deadline = time.monotonic() + timeout
    while True:
        events = server.events()
        if ready(events):
            return events
        if time.monotonic() > deadline:
            names = [e["event"] for e in events]
            raise AssertionError(f"timed out waiting for {what}; Magpie has {names}")
        time.sleep(0.1)


def has_events(*names: str) -> Callable[[list[dict[str, Any]]], bool]:
    """At least these events (with multiplicity) are stored."""

    def ready(events: list[dict[str, Any]]) -> bool:
        stored = [e["event"] for e in events]
        return all(stored.count(n) >= names.count(n) for n in set(names))

    return ready


@contextmanager
def site_server() -> Iterator[Site]:
    site = Site()
    try:
        yield site
    finally:
        site.close()
