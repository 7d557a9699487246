"""Fan-out: viewers start on a keyframe (cached when recent), keyframe requests are limited."""

from __future__ import annotations

import asyncio
import itertools

from bcastctl.node.fanout import JOIN_FROM_CACHE_MAX_FRAMES, Fanout
from bcastctl.node.frames import EncodedFrame
from bcastctl.node.metrics import Metrics


def vp8(timestamp: int, key: bool) -> EncodedFrame:
    # VP8 payload header: bit 0 of the first byte is 0 on a keyframe
    return EncodedFrame.create("video/VP8", 90000, bytes([0x10 if key else 0x11, 1, 2]), timestamp)


async def test_a_joiner_starts_from_a_recent_keyframe_without_asking_for_one() -> None:
    requests: list[int] = []
    fanout = Fanout("s", "video", "video/VP8", Metrics(), lambda: requests.append(1))
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
    await asyncio.sleep(0.45)  # past the rate limit: the request goes out
    assert len(requests) == 2
    fanout.close()


async def test_keyframe_requests_are_rate_limited_and_retried_while_a_viewer_waits() -> None:
    requests: list[float] = []
    loop = asyncio.get_running_loop()
    fanout = Fanout("s", "video", "video/VP8", Metrics(), lambda: requests.append(loop.time()))
    for _ in range(5):
        fanout.add_viewer()  # five joiners at once: one request now, the rest held back
    assert len(requests) == 1
    await asyncio.sleep(1.2)  # nobody got a keyframe: requests repeat, at most every 0.4 s
    assert 2 <= len(requests) <= 4
    assert all(b - a >= 0.39 for a, b in itertools.pairwise(requests))
    fanout.push(vp8(0, key=True))
    settled = len(requests)
    await asyncio.sleep(0.7)
    assert len(requests) <= settled + 1  # at most one already scheduled; then no more
    fanout.close()
