"""Fan-out: viewers start on a keyframe (cached when recent), keyframe requests are limited.

Timers run on a ManualClock: the rate limit and the retries are asserted exactly, not
against wall-clock sleeps.
"""

from __future__ import annotations

import asyncio
import itertools

from clock_kit import ManualClock

from bcastctl.node.fanout import (
    JOIN_FROM_CACHE_MAX_FRAMES,
    KEYFRAME_MIN_INTERVAL_S,
    KEYFRAME_RETRY_S,
    Fanout,
)
from bcastctl.node.frames import EncodedFrame
from bcastctl.node.metrics import Metrics


def vp8(timestamp: int, key: bool) -> EncodedFrame:
    # VP8 payload header: bit 0 of the first byte is 0 on a keyframe
    return EncodedFrame.create("video/VP8", 90000, bytes([0x10 if key else 0x11, 1, 2]), timestamp)


async def test_a_joiner_starts_from_a_recent_keyframe_without_asking_for_one() -> None:
    requests: list[int] = []
    clock = ManualClock()
    fanout = Fanout("s", "video", "video/VP8", Metrics(), lambda: requests.append(1), clock)
    first = fanout.add_viewer()
    assert requests == [1]  # nothing cached: the first viewer asks for a keyframe
    fanout.push(vp8(0, key=False))  # a delta frame before any keyframe is not forwarded
    assert first.waiting
    for index in range(4):
        fanout.push(vp8(3000 * (index + 1), key=index == 0))
    assert not first.waiting
    second = fanout.add_viewer()
    packets = [await asyncio.wait_for(second.recv(), 1) for _ in range(4)]
    assert [p.pts for p in packets] == [3000, 6000, 9000, 12000]
    assert requests == [1]  # served from the cache, no extra keyframe for the publisher
    for index in range(JOIN_FROM_CACHE_MAX_FRAMES):
        fanout.push(vp8(15000 + 3000 * index, key=False))
    fanout.add_viewer()  # the last keyframe is too old now: ask for a new one
    assert len(requests) == 1  # held back: the first request was just now
    clock.advance(KEYFRAME_MIN_INTERVAL_S)  # the end of the rate limit: the request goes out
    assert len(requests) == 2
    fanout.close()


async def test_keyframe_requests_are_rate_limited_and_retried_while_a_viewer_waits() -> None:
    clock = ManualClock()
    requests: list[float] = []
    metrics = Metrics()
    fanout = Fanout("s", "video", "video/VP8", metrics, lambda: requests.append(clock.now()), clock)
    start = clock.now()
    for _ in range(5):
        fanout.add_viewer()  # five joiners at once: one request now, the rest held back
    assert requests == [start]
    clock.advance(KEYFRAME_MIN_INTERVAL_S / 2)
    fanout.add_viewer()  # inside the window: deferred to its end, not sent now
    assert requests == [start]
    clock.advance(1.2)  # nobody got a keyframe: requests repeat while viewers wait
    # a retry (every 0.5 s) inside the window goes out when the window ends
    assert [round(at - start, 3) for at in requests] == [0.0, 0.4, 0.8, 1.2]
    assert all(b - a >= KEYFRAME_MIN_INTERVAL_S - 1e-9 for a, b in itertools.pairwise(requests))
    fanout.push(vp8(0, key=True))  # everyone starts: the retries stop
    clock.advance(10 * KEYFRAME_RETRY_S)
    assert len(requests) == 4
    fanout.close()
