"""Fixtures the web UI's browser tests share: one Chromium per module, one
signed-up browser on the module's own ``server``, and a check that a test
leaves no console error behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import LiveServer
from tests.e2e.ui import Ui, chromium, open_ui, sign_up


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def ui(browser: Any, server: LiveServer) -> Iterator[Ui]:
    """One logged-in browser for the module's tests (signing up is tested on its own)."""
    opened = open_ui(browser, server)
    sign_up(opened)
    yield opened
    opened.context.close()


@pytest.fixture
def clean(ui: Ui) -> Iterator[Ui]:
    """No console error during the test (allowances a test makes end with it)."""
    ui.console.errors.clear()
    ui.console.allowed.clear()
    yield ui
    assert ui.console.problems() == []
