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
import contextlib
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiortc.codecs.vpx import Vp8Decoder
from aiortc.jitterbuffer import JitterFrame
from node_testkit import SECRET, WHIP_TOKEN, NatsServer, NodeFactory, until, wait_for

from bcastctl.adapters.nats_bus import BusMessage, NatsBus
from bcastctl.node import aiortc_hook
from bcastctl.node.frames import EncodedFrame, FrameSeal, is_keyframe, media_key
from bcastctl.protocol import keyframe_subject, media_subject
from bcastctl.whip.client import ClientSession, publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo, read_number

pytestmark = pytest.mark.slow
FLEET = "testfleet"

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


async def test_a_node_starting_to_relay_gets_the_holders_cached_keyframe_at_once(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    """A keyframe request over NATS (what a node starting to relay sends) is answered with
    the holder's frames since its last keyframe, re-sent at once, not only with a request
    to the publisher: the new relay decodes one RTT after asking instead of waiting for a
    fresh keyframe (which the holder's rate limit may hold back 0.4 s, fanout.py)."""
    r1, _ = super_cluster
    holder = start_node("cj-a", r1, "127.0.0.64")
    relay = await NatsBus.connect([r1.url], "relay-under-test")
    seal = FrameSeal(media_key(SECRET))
    subject = media_subject(FLEET, "cj-a", "cached", "video")
    seen: list[EncodedFrame] = []
    ask = keyframe_subject(FLEET, "cj-a", "cached")
    asked_again: list[int] = []  # len(seen) when the second request went out

    async def on_frame(message: BusMessage) -> None:
        seen.append(EncodedFrame.unpack(seal.open(message.subject, message.data)))
        first = next((i for i, f in enumerate(seen) if f.keyframe), None)
        if not asked_again and first is not None and len(seen) - 1 - first >= 2:
            # another node starts relaying 2 frames after a keyframe: the cache is recent
            asked_again.append(len(seen))
            await relay.publish(ask, b"")

    publisher = await publish(
        HttpSignalling(http, holder.signalling), "cached", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    try:
        await relay.subscribe(subject, on_frame)
        await relay.flush()
        await asyncio.sleep(1.0)  # the publisher's first keyframe is no longer cached
        while not seen:  # the first relay asks until the holder serves the stream
            await relay.publish(ask, b"")
            with contextlib.suppress(AssertionError):
                await until("frames on NATS", lambda: bool(seen), 0.5)
        await until("the second request", lambda: bool(asked_again))
        before = asked_again[0]
        keyframe = [f for f in seen[:before] if f.keyframe][-1]
        newest = seen[before - 1].timestamp
        await until("frames re-sent", lambda: any(f.timestamp <= newest for f in seen[before:]))
        resent = [f for f in seen[before:] if f.timestamp <= newest]  # a fresh one is newer
        assert resent[0].keyframe and resent[0].timestamp == keyframe.timestamp
        assert [f.timestamp for f in resent] == sorted(f.timestamp for f in resent)
        assert holder.metric("relay_starts_from_cache_total") >= 1
    finally:
        await relay.close()
        await publisher.close(WHIP_TOKEN)
