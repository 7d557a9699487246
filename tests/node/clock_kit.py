"""A clock tests drive by hand (bcastctl.node.clock.Clock): no sleeping, exact timing."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class ManualTimer:
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class ManualClock:
    """`advance(s)` runs every timer due by then, in order, including timers they set."""

    time: float = 1000.0
    _due: list[tuple[float, int, Callable[[], None], ManualTimer]] = field(default_factory=list)
    _order: itertools.count[int] = field(default_factory=itertools.count)

    def now(self) -> float:
        return self.time

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> ManualTimer:
        timer = ManualTimer()
        heapq.heappush(self._due, (self.time + delay_s, next(self._order), callback, timer))
        return timer

    def advance(self, seconds: float) -> None:
        until = self.time + seconds
        while self._due and self._due[0][0] <= until:
            at, _, callback, timer = heapq.heappop(self._due)
            self.time = at
            if not timer.cancelled:
                callback()
        self.time = until
