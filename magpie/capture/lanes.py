"""Where capture decodes a request: inline when it is small, else in the decode process.

Every ordinary SDK request (posthog-js's gzip batches, posthog-python's
hundred events) fits the light budget and is decoded on capture's event
loop, in a few milliseconds at most. A request that turns out to need more
(a large body, a large decompressed payload, many events, or lz64, which is
pure Python) is decoded again in the decode process (offload.py), so that
no single request can hold up the others.
"""

from __future__ import annotations

from datetime import datetime

from magpie.capture.decoder import (
    CaptureLimits,
    DecodedBatch,
    LightBudget,
    TooHeavy,
    decode_v0,
    decode_v1,
)
from magpie.capture.decoding import WireRequest
from magpie.capture.offload import DecodeProcess, HeavyBudget


class Lanes:
    def __init__(
        self,
        limits: CaptureLimits,
        light: LightBudget | None = None,
        heavy: HeavyBudget | None = None,
    ) -> None:
        self._limits = limits
        self._light = light or LightBudget()
        self.heavy = DecodeProcess(limits, heavy)
        self.inline = 0  # requests decoded inline and in the decode process (tests count them)
        self.offloaded = 0

    async def v0(self, request: WireRequest, now: datetime) -> DecodedBatch:
        try:
            decoded = decode_v0(request, self._limits, now, self._light)
        except TooHeavy:
            self.offloaded += 1
            return await self.heavy.decode("v0", request, now)
        self.inline += 1
        return decoded

    async def v1(self, request: WireRequest, now: datetime) -> DecodedBatch:
        try:
            decoded = decode_v1(request, self._limits, now, self._light)
        except TooHeavy:
            self.offloaded += 1
            return await self.heavy.decode("v1", request, now)
        self.inline += 1
        return decoded

    def close(self) -> None:
        self.heavy.close()
