"""Fixtures the web UI's browser tests share: one Chromium per module, and a
check that a test leaves no console error behind."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.ui import Ui, chromium


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def clean(ui: Ui) -> Iterator[Ui]:
    """No console error during the test (allowances a test makes end with it)."""
    ui.console.errors.clear()
    ui.console.allowed.clear()
    yield ui
    assert ui.console.problems() == []
