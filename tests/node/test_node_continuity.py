"""Stream continuity: viewers keep their sessions while their stream's source changes.

Fast tests on the real Fanout and Continuity objects; the node-level and Chromium tests
(test_node_continuity_e2e.py) run publishers and viewers against node processes.
"""

from __future__ import annotations

import asyncio

from bcastctl.node.continuity import Continuity
from bcastctl.node.fanout import Fanout
from bcastctl.node.frames import EncodedFrame
from bcastctl.node.metrics import Metrics


def vp8(timestamp: int, key: bool) -> EncodedFrame:
    # VP8 payload header: bit 0 of the first byte is 0 on a keyframe
    return EncodedFrame.create("video/VP8", 90000, bytes([0x10 if key else 0x11, 1, 2]), timestamp)


async def test_a_resumed_fanout_runs_timestamps_on_and_restarts_its_viewers_on_a_keyframe() -> None:
    old_requests: list[int] = []
    new_requests: list[int] = []
    fanout = Fanout("s", "video", "video/VP8", Metrics(), lambda: old_requests.append(1))
    viewer = fanout.add_viewer()
    for index in range(3):
        fanout.push(vp8(1000 + 3000 * index, key=index == 0))
    before = [(await asyncio.wait_for(viewer.recv(), 1)).pts for _ in range(3)]
    assert before == [1000, 4000, 7000]

    fanout.detach_source()
    fanout.request_keyframe()  # nobody to ask while the stream has no source
    await asyncio.sleep(0.2)  # the publisher is away for a while
    fanout.resume(lambda: new_requests.append(1))
    assert new_requests == [1]  # the new source is asked for a keyframe at once
    assert viewer.waiting
    # the new publisher's timestamps start anywhere (RFC 3550: random)
    fanout.push(vp8(3_000_000_000, key=False))  # a delta frame first: not forwarded
    fanout.push(vp8(3_000_003_000, key=True))
    fanout.push(vp8(3_000_006_000, key=False))
    after = [(await asyncio.wait_for(viewer.recv(), 1)).pts for _ in range(2)]
    gap = after[0] - before[-1]
    assert 0.2 * 90000 <= gap <= 1.0 * 90000  # one wall-clock interval later, not a jump
    assert after[1] - after[0] == 3000  # the new source's spacing is kept
    assert old_requests == [1]  # only when the viewer joined: none while the source was away
    fanout.close()


async def test_a_hold_nobody_adopts_ends_the_viewers() -> None:
    ended: list[str] = []
    continuity = Continuity(Metrics(), ended.append, hold_s=0.2)
    fanout = Fanout("s", "video", "video/VP8", Metrics(), lambda: None)
    viewer = fanout.add_viewer()
    continuity.hold("s", {"video": fanout})
    assert continuity.waiting() == ["s"]
    await asyncio.sleep(0.4)
    assert ended == ["s"] and continuity.waiting() == []
    assert viewer._ended  # the track ended: its sender stops


async def test_a_source_with_another_codec_does_not_adopt_the_viewers() -> None:
    ended: list[str] = []
    continuity = Continuity(Metrics(), ended.append)
    fanout = Fanout("s", "video", "video/VP8", Metrics(), lambda: None)
    fanout.add_viewer()
    continuity.hold("s", {"video": fanout})
    adopt = continuity.adopter("s")
    assert adopt("video", "video/H264", lambda: None) is None
    assert ended == ["s"] and continuity.waiting() == []


async def test_a_hold_whose_viewers_all_leave_is_dropped() -> None:
    continuity = Continuity(Metrics(), lambda stream: None)
    fanout = Fanout("s", "video", "video/VP8", Metrics(), lambda: None)
    viewer = fanout.add_viewer()
    unwatched = Fanout("s", "audio", "audio/opus", Metrics(), lambda: None)
    continuity.hold("s", {"video": fanout, "audio": unwatched})
    viewer.stop()  # the viewer left while the publisher was away
    assert continuity.waiting() == []
    assert continuity.adopter("s")("video", "video/VP8", lambda: None) is None
