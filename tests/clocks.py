"""A clock for tests of the running service: real time (the chat platforms' signatures
and deadlines use it), moved on by the tests between ticks so that readings a rule
interval apart take no real time."""

from __future__ import annotations

import time


class OffsetClock:
    def __init__(self) -> None:
        self.offset = 0.0

    def __call__(self) -> float:
        return time.time() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds
