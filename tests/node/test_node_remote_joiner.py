"""A late viewer of a stream held in another region starts on a keyframe and decodes it.

The publisher (aiortc's VP8 encoder: a keyframe at the start and when asked, otherwise
one every 3000 frames, aiortc/codecs/vpx.py `gop_size = 3000`) sends delta frames once
the first remote viewer is served; the frames crossing NATS are then delta frames.
A viewer that joins late — on the node already relaying the stream, or on a cold node
of the same region (the relaying node is full) that subscribes while delta frames are
in flight — must still get a
keyframe first (a VP8 decoder cannot start on a delta frame, RFC 6386 section 9.1), and
the picture it decodes from it must be the publisher's.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiortc.codecs.vpx import Vp8Decoder
from aiortc.jitterbuffer import JitterFrame
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, until, wait_for

from bcastctl.node import aiortc_hook
from bcastctl.node.frames import is_keyframe
from bcastctl.whip.client import ClientSession, publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo, read_number

pytestmark = pytest.mark.slow

Encoded = list[tuple[str, bytes, int]]  # (mime, data, RTP timestamp) as the viewer got them


async def encoded_viewer(
    http: aiohttp.ClientSession, signalling_url: str, stream: str
) -> tuple[ClientSession, Encoded]:
    """A WHEP viewer that keeps the encoded frames it receives, in order (no decoder)."""
    frames: Encoded = []

    def tap(receiver: Any, record: Callable[[Any], None]) -> None:
        def sink(mime: str, clock_rate: int, data: bytes, timestamp: int) -> None:
            frames.append((mime, data, timestamp))
            record(None)

        assert aiortc_hook.tap_receiver(receiver, "video", sink, lambda: None) is not None

    session = await view(
        HttpSignalling(http, signalling_url), stream, on_receiver=tap, decode=False
    )
    return session, frames


def first_picture(frames: Encoded) -> int | None:
    """Decode from the first frame on (as a player would); the first picture's number."""
    decoder = Vp8Decoder()
    for _, data, timestamp in frames:
        for picture in decoder.decode(JitterFrame(data=data, timestamp=timestamp)):
            return read_number(picture)
    return None


async def test_a_late_remote_viewer_starts_on_a_keyframe_and_decodes_it(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = super_cluster
    holder = start_node("j-a", r1, "127.0.0.61")
    # full with two viewers: a third viewer in r2 is served by the cold node itself
    relaying = start_node("j-b", r2, "127.0.0.62", BCAST_MAX_SESSIONS="2")
    cold = start_node("j-c", r2, "127.0.0.63")
    for node in (relaying, cold):
        await asyncio.to_thread(
            wait_for, "the holder seen", lambda n=node: "j-a" in n.member_names()
        )
    source = SyntheticVideo(320, 180)
    publisher = await publish(HttpSignalling(http, holder.signalling), "late", WHIP_TOKEN, source)
    for node in (relaying, cold):
        await asyncio.to_thread(
            wait_for, "registry", lambda n=node: "late" in n.cluster()["registry"]
        )
    first, first_frames = await encoded_viewer(http, relaying.signalling, "late")
    await until("2 s of frames on the first remote viewer", lambda: len(first_frames) >= 60, 20)
    # the stream now crosses NATS as delta frames: the last keyframe is long past
    assert not any(is_keyframe(m, d) for m, d, _ in first_frames[-30:])

    sessions = [first]
    try:
        for node in (relaying, cold):
            late, frames = await encoded_viewer(http, node.signalling, "late")
            sessions.append(late)
            await until(f"10 frames on a late viewer of {node.name}", lambda f=frames: len(f) >= 10)
            mime, data, _ = frames[0]
            assert is_keyframe(mime, data), f"{node.name}: the first frame is a delta frame"
            number = first_picture(frames)
            assert number is not None and number in source.sent_at, number
            assert node.metric("frames_relayed_in_total") > 0, f"{node.name} relays nothing"
    finally:
        for session in sessions:
            await session.close()
        await publisher.close(WHIP_TOKEN)
