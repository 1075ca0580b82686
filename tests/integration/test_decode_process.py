"""The decode process: large requests are decoded there, within a budget, one at a time."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import orjson
import pytest

from magpie.capture.decoder import CaptureLimits, decode_v0
from magpie.capture.decoding import WireRequest
from magpie.capture.ipc import RemoteCaptureError
from magpie.capture.offload import DecodeProcess, HeavyBudget
from magpie.errors import PayloadTooLarge, ServiceUnavailable

NOW = datetime(2026, 6, 1, 12, tzinfo=UTC)
LIMITS = CaptureLimits(20 * 1024 * 1024, 2 * 1024 * 1024)
T = TypeVar("T")


def batch_request(events: int) -> WireRequest:
    body = orjson.dumps(
        {
            "api_key": "phc_test",
            "batch": [{"event": "e", "distinct_id": f"d{i}"} for i in range(events)],
        }
    )
    return WireRequest("/batch/", "POST", {}, {}, body)


def run(make: Callable[[DecodeProcess], Awaitable[T]], budget: HeavyBudget | None = None) -> T:
    async def main() -> T:
        process = DecodeProcess(LIMITS, budget)
        try:
            return await make(process)
        finally:
            process.close()

    return asyncio.run(main())


@pytest.fixture
def continue_stopped() -> Iterator[list[int]]:
    stopped: list[int] = []
    yield stopped
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def test_it_decodes_exactly_as_inline() -> None:
    wire = batch_request(3000)

    async def both(process: DecodeProcess) -> tuple[int, int]:
        remote = await process.decode("v0", wire, NOW)
        local = decode_v0(wire, LIMITS, NOW)
        # The same events, each with its own generated uuid.
        without_uuid = [
            [{k: v for k, v in e.items() if k != "uuid"} for e in orjson.loads(d.events_json)]
            for d in (remote, local)
        ]
        assert without_uuid[0] == without_uuid[1]
        return remote.count, process.started

    assert run(both) == (3000, 1)


def test_requests_arriving_together_share_one_process() -> None:
    async def together(process: DecodeProcess) -> tuple[list[int], int]:
        decoded = await asyncio.gather(
            *(process.decode("v0", batch_request(n), NOW) for n in (1, 2, 3, 4))
        )
        return [d.count for d in decoded], process.started

    assert run(together) == ([1, 2, 3, 4], 1)


def test_a_request_over_its_cpu_budget_is_refused_and_the_next_one_served() -> None:
    # A millisecond of CPU: 20,000 events need a hundred times more, on any machine.
    async def over_then_under(process: DecodeProcess) -> int:
        with pytest.raises(RemoteCaptureError) as refused:
            await process.decode("v0", batch_request(20_000), NOW)
        assert (refused.value.status, refused.value.code) == (413, "payload_too_large")
        assert "CPU" in refused.value.message
        # The process is still there, and still works.
        with pytest.raises(RemoteCaptureError):
            await process.decode("v0", WireRequest("/batch/", "POST", {}, {}, b"{"), NOW)
        return process.started

    assert run(over_then_under, HeavyBudget(cpu_seconds=0.001)) == 1


def test_it_runs_below_capture_priority_with_a_memory_cap() -> None:
    async def limits(process: DecodeProcess) -> tuple[str, str]:
        await process.decode("v0", batch_request(1), NOW)
        assert process.pid is not None
        status = Path(f"/proc/{process.pid}/stat").read_text()
        nice = status[status.rindex(")") + 2 :].split()[16]
        limits = Path(f"/proc/{process.pid}/limits").read_text().splitlines()
        address_space = next(line for line in limits if line.startswith("Max address space"))
        return nice, address_space

    nice, address_space = run(limits, HeavyBudget(nice=7, memory_bytes=1024**3))
    assert int(nice) >= 7
    assert str(1024**3) in address_space


def test_when_it_dies_the_request_it_was_on_is_refused_and_the_rest_retried(
    continue_stopped: list[int],
) -> None:
    async def die(process: DecodeProcess) -> int:
        await process.decode("v0", batch_request(1), NOW)
        pid = process.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        continue_stopped.append(pid)
        first = asyncio.create_task(process.decode("v0", batch_request(10), NOW))
        second = asyncio.create_task(process.decode("v0", batch_request(10), NOW))
        await asyncio.sleep(0)  # both are written to the stopped process
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(PayloadTooLarge):
            await first
        with pytest.raises(ServiceUnavailable):
            await second
        replacement = await process.decode("v0", batch_request(5), NOW)
        assert replacement.count == 5 and process.pid != pid
        return process.started

    assert run(die) == 2


def test_past_its_queue_large_requests_are_answered_503(continue_stopped: list[int]) -> None:
    async def queue_up(process: DecodeProcess) -> list[int]:
        await process.decode("v0", batch_request(1), NOW)
        assert process.pid is not None
        os.kill(process.pid, signal.SIGSTOP)
        continue_stopped.append(process.pid)
        waiting = [
            asyncio.create_task(process.decode("v0", batch_request(2), NOW)) for _ in range(3)
        ]
        await asyncio.sleep(0)
        with pytest.raises(ServiceUnavailable) as busy:
            await process.decode("v0", batch_request(2), NOW)
        assert busy.value.retry_after is not None
        os.kill(process.pid, signal.SIGCONT)
        return [task.count for task in await asyncio.gather(*waiting)]

    assert run(queue_up, HeavyBudget(waiting=3)) == [2, 2, 2]


def test_it_imports_none_of_the_servers_heavy_libraries() -> None:
    probe = (
        "import sys; import magpie.capture.decode_worker; "
        "print(sorted({m.split('.')[0] for m in sys.modules}))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    for heavy in ("duckdb", "pyarrow", "sqlglot", "uvicorn", "starlette", "numpy"):
        assert f"'{heavy}'" not in loaded
