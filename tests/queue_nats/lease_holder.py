"""A worker process for the takeover test: holds leases and reports what it holds.

    python -m tests.queue_nats.lease_holder URL PARTITIONS LEASE_SECONDS

prints ``held 0,1,2`` whenever its set of partitions changes, until killed.
"""

from __future__ import annotations

import sys
import threading

from magpie.queue.nats import NatsQueue


def main() -> None:
    url, partitions, lease_seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    queue = NatsQueue(url, partitions=partitions, lease_seconds=lease_seconds)
    held: set[int] = set()
    lock = threading.Lock()

    def report() -> None:
        print("held " + ",".join(str(p) for p in sorted(held)), flush=True)

    def gained(partition: int, fence: object) -> None:
        with lock:
            held.add(partition)
            report()

    def lost(partition: int) -> None:
        with lock:
            held.discard(partition)
            report()

    queue.keeper(gained, lost, owner="holder-process").start()
    threading.Event().wait()


if __name__ == "__main__":
    main()
