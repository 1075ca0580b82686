"""Partition leases against the real NATS: fair share, takeover, fencing."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from magpie.queue.nats import LeaseLost, NatsQueue
from tests.conftest import ROOT

WAIT = 60.0  # a guard against hanging, never a measured expectation


def wait_for(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.05)


def test_two_workers_share_the_partitions_fairly(make_queue: Callable[..., NatsQueue]) -> None:
    queue = make_queue(partitions=5, lease_seconds=30)
    a, b = queue.leases("worker-a"), queue.leases("worker-b")
    assert sorted(a.heartbeat().gained) == [0, 1, 2, 3, 4]  # alone: everything
    # b joins: its share (2 of 5) is all held, so it waits for a to hand some over.
    assert b.heartbeat().gained == []
    surplus = a.heartbeat().surplus
    assert len(surplus) == 2  # "worker-a" sorts first: it keeps 3
    for partition in surplus:
        a.release(partition)  # after stopping their consumption
    assert sorted(b.heartbeat().gained) == sorted(surplus)
    assert sorted([*a.owned, *b.owned]) == [0, 1, 2, 3, 4]
    # Steady state: nothing moves.
    assert a.heartbeat() == b.heartbeat() == type(a.heartbeat())()


def test_a_stale_leaseholder_is_refused(make_queue: Callable[..., NatsQueue]) -> None:
    queue = make_queue(partitions=2, lease_seconds=1)
    stale, fresh = queue.leases("worker-stale"), queue.leases("worker-fresh")
    stale.heartbeat()
    fence = stale.fence(0)
    fence()  # held: the commit may go ahead
    # The stale worker stops renewing (frozen, or cut off from NATS); once its
    # keys expire on the server the other worker takes its partitions.
    wait_for(lambda: 0 in fresh.heartbeat().gained or 0 in fresh.owned, "the takeover")
    with pytest.raises(LeaseLost):
        fence()
    assert sorted(stale.heartbeat().lost) == [0, 1]  # its renewal is refused
    with pytest.raises(LeaseLost):
        stale.fence(0)
    fresh.fence(0)()


def test_the_fence_asks_the_server_not_only_the_clock(
    make_queue: Callable[..., NatsQueue],
) -> None:
    queue = make_queue(partitions=1, lease_seconds=30)
    holder = queue.leases("worker-a")
    holder.heartbeat()
    fence = holder.fence(0)
    # Someone removes the lease behind the holder's back (an operator, a bucket
    # restored from a backup): its own clock says valid, the server says not.
    queue.client.call(lambda js: _delete_key(js, queue.names.leases, "partition.p00"))
    with pytest.raises(LeaseLost):
        fence()


async def _delete_key(js, bucket: str, key: str) -> None:  # type: ignore[no-untyped-def]
    kv = await js.key_value(bucket)
    await kv.purge(key)


def test_a_killed_workers_partitions_are_taken_over(
    make_queue: Callable[..., NatsQueue],
) -> None:
    queue = make_queue(partitions=4, lease_seconds=1.5)
    url = f"{queue.url.server}/{queue.url.stream}"
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.queue_nats.lease_holder", url, "4", "1.5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        child_held: list[str] = []
        reader = threading.Thread(target=lambda: child_held.extend(child.stdout or []), daemon=True)
        reader.start()
        wait_for(lambda: bool(child_held) and child_held[-1] == "held 0,1,2,3\n", "the child")

        held: set[int] = set()
        lock = threading.Lock()

        def gained(partition: int, fence: Callable[[], None]) -> None:
            fence()
            with lock:
                held.add(partition)

        def lost(partition: int) -> None:
            with lock:
                held.discard(partition)

        keeper = queue.keeper(gained, lost, owner="surviving-worker")
        keeper.start()
        # Both alive: two each.
        wait_for(lambda: len(held) == 2 and child_held[-1].count(",") == 1, "a fair share")
        child.kill()  # SIGKILL: no goodbye, its leases just stop being renewed
        child.wait()
        wait_for(lambda: held == {0, 1, 2, 3}, "the takeover of the killed worker's partitions")
        for partition in range(4):
            keeper.leases.fence(partition)()
        keeper.stop()
        assert held == set()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_handing_partitions_over_slowly_keeps_the_others_renewed(
    make_queue: Callable[..., NatsQueue],
) -> None:
    """Stopping a partition waits for its unit in progress (seconds under load).
    While the keeper hands two partitions over one after another, each stop
    lasting longer than a lease, the two it keeps must stay renewed: the
    heartbeat used to wait for the stops, and every lease of the process lapsed."""
    lease = 2.0
    stop_takes = 2 * lease
    queue = make_queue(partitions=4, lease_seconds=lease)
    held: set[int] = set()
    lost_calls: list[int] = []
    lock = threading.Lock()

    def gained(partition: int, fence: Callable[[], None]) -> None:
        with lock:
            held.add(partition)

    def lost(partition: int) -> None:
        with lock:
            lost_calls.append(partition)
            was_held = partition in held
            held.discard(partition)
        if was_held:
            time.sleep(stop_takes)  # a unit in progress finishing

    keeper = queue.keeper(gained, lost, owner="worker-a")
    keeper.start()
    other = make_queue(partitions=4, lease_seconds=lease).keeper(
        lambda partition, fence: None, lambda partition: None, owner="worker-b"
    )
    try:
        wait_for(lambda: len(held) == 4, "the first worker holding everything")
        other.start()
        wait_for(lambda: len(other.leases.owned) == 2, "the second worker's share")
        wait_for(lambda: len(lost_calls) >= 2, "the hand-over")
        kept = sorted(held)
        assert len(kept) == 2
        assert sorted(lost_calls) == sorted(set(range(4)) - set(kept))  # only the surplus
        for partition in kept:
            keeper.leases.fence(partition)()  # still valid, still this worker's
    finally:
        other.stop()
        keeper.stop()
