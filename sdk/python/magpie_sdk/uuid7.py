"""UUIDv7 generation (RFC 9562), as posthog-js uses for distinct, device and event ids.

Python 3.11 has no ``uuid.uuid7``. Ids are monotonic within the process: when
two are made in the same millisecond the random field is incremented instead
of redrawn, so ids sort in creation order (the server breaks timestamp ties by
uuid, and anonymous ids made later always sort later).
"""

from __future__ import annotations

import os
import threading
import time
import uuid

_RAND_BITS = 74  # 12 bits of rand_a + 62 bits of rand_b
_RAND_MASK = (1 << _RAND_BITS) - 1

_lock = threading.Lock()
_last_ms = 0
_last_rand = 0


def _fresh_random() -> int:
    # Keep the top bit clear so that the in-millisecond counter has ample room
    # before it overflows into the next millisecond.
    return int.from_bytes(os.urandom(10), "big") & (_RAND_MASK >> 1)


def uuid7() -> str:
    """A new UUIDv7 as its canonical lowercase string."""
    global _last_ms, _last_rand
    with _lock:
        now_ms = time.time_ns() // 1_000_000
        if now_ms > _last_ms:
            ms, rand = now_ms, _fresh_random()
        else:
            # Same millisecond, or the wall clock stepped back: stay monotonic.
            ms, rand = _last_ms, _last_rand + 1
            if rand > _RAND_MASK:
                ms, rand = ms + 1, _fresh_random()
        _last_ms, _last_rand = ms, rand
    rand_a = rand >> 62
    rand_b = rand & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
    return str(uuid.UUID(int=value))
