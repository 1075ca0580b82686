"""The capture process answers every SDK: it runs on uvloop when uvloop is installed."""

from __future__ import annotations

import asyncio

import pytest

from magpie.capture.process import event_loop_factory


def test_the_capture_process_runs_on_uvloop() -> None:
    uvloop = pytest.importorskip("uvloop")
    factory = event_loop_factory()
    assert factory is uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        assert isinstance(runner.get_loop(), uvloop.Loop)
