"""Helpers for driving Magpie's own web UI in Debian's Chromium: a logged-in
browser context, a watch on console errors, and screenshots kept as test
artifacts (``test-artifacts/ui/``, not committed)."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, LiveServer
from tests.e2e.browser import CHROMIUM_ARGS, SETUP_HINT, SKIP_ENV, chromium_path, skip_requested

ARTIFACTS = ROOT / "test-artifacts" / "ui"
UI_INDEX = ROOT / "magpie" / "http" / "ui" / "dist" / "index.html"
EMAIL = "ada@example.com"
PASSWORD = "correct horse battery"


@contextmanager
def chromium() -> Iterator[Any]:
    if skip_requested():
        pytest.skip(f"{SKIP_ENV} is set")
    missing = []
    if chromium_path() is None:
        missing.append("chromium is not on PATH")
    if importlib.util.find_spec("playwright") is None:
        missing.append("the playwright package is not installed")
    if not UI_INDEX.is_file():
        missing.append("the web UI is not built (make ui)")
    if missing:
        pytest.fail(
            "web UI tests cannot run: " + "; ".join(missing) + ". " + SETUP_HINT, pytrace=False
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Console:
    """Console errors and page errors of every page of a context."""

    errors: list[str] = field(default_factory=list)
    allowed: list[str] = field(default_factory=list)

    def attach(self, page: Any) -> None:
        page.on(
            "console",
            lambda m: m.type == "error" and self.errors.append(f"{page.url}: {m.text}"),
        )
        page.on("pageerror", lambda e: self.errors.append(f"{page.url}: page error {e}"))

    def problems(self) -> list[str]:
        return [e for e in self.errors if not any(a in e for a in self.allowed)]


@dataclass
class Ui:
    server: LiveServer
    context: Any
    page: Any
    console: Console

    @property
    def url(self) -> str:
        return self.server.url

    def go(self, path: str) -> None:
        self.page.goto(self.url + path)

    def shot(self, name: str, *, full_page: bool = True) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def new_page(self) -> Any:
        page = self.context.new_page()
        self.console.attach(page)
        return page

    def csrf(self) -> str:
        return str(self.page.locator('meta[name="magpie-csrf"]').get_attribute("content"))

    @contextmanager
    def holding(self, pattern: str, answer: Callable[[Any], None] | None = None) -> Iterator[None]:
        """The page's requests to ``pattern`` held while the block runs, so its
        loading state stays on screen; then each gets ``answer`` (by default it
        goes on to the server)."""
        held: list[Any] = []
        # A Python function: Playwright cannot wrap a builtin such as held.append.
        self.page.route(pattern, lambda route: held.append(route))
        try:
            yield
        finally:
            for route in held:
                (answer or _pass_on)(route)
            self.page.unroute(pattern)


def _pass_on(route: Any) -> None:
    route.continue_()


def json_answer(status: int, body: dict[str, Any]) -> Callable[[Any], None]:
    """An answer for ``Ui.holding``: ``body`` as JSON with ``status``."""
    return lambda route: route.fulfill(
        status=status, content_type="application/json", body=json.dumps(body)
    )


def open_ui(browser: Any, server: LiveServer) -> Ui:
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    console = Console()
    page = context.new_page()
    console.attach(page)
    page.set_default_timeout(15_000)
    return Ui(server, context, page, console)


def sign_up(ui: Ui, email: str = EMAIL) -> None:
    ui.go("/")
    ui.page.wait_for_url("**/signup")
    ui.page.get_by_label("Email").fill(email)
    ui.page.get_by_label("Password").fill(PASSWORD)
    ui.page.get_by_role("button", name="Create account").click()
    ui.page.wait_for_url(f"**/project/{ui.server.project_id}/**")
