"""The node's clock for timers it sets itself (keyframe rate limits and retries).

`LoopClock` is the running event loop's monotonic clock; tests drive a manual clock with
the same two methods instead of sleeping, so timing rules are asserted exactly.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float:
        """Seconds on a monotonic clock."""
        ...

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        """Run `callback` after `delay_s`; RuntimeError when no event loop runs."""
        ...


class LoopClock:
    """time.monotonic() and the running loop's timers."""

    def now(self) -> float:
        return time.monotonic()

    def call_later(self, delay_s: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(delay_s, callback)
