"""Nothing on NATS is trusted because it arrived: recorded heartbeats published again,
and frames forged into a stream's subject, change nothing a user sees.

A client on the same NATS server as the nodes plays the attacker who can read and
publish there (a leaked node credential or an open server): it records a node's
signed heartbeats and publishes them again later, and publishes frames of its own.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from node_testkit import SECRET, WHIP_TOKEN, NatsServer, NodeFactory, until, wait_for

from bcastctl.adapters.nats_bus import BusMessage, NatsBus
from bcastctl.node.frames import EncodedFrame, FrameSeal, media_key
from bcastctl.protocol import heartbeat_subject, media_subject
from bcastctl.whip.client import publish, view
from bcastctl.whip.signalling import HttpSignalling, WhipError
from bcastctl.whip.synthetic import SyntheticVideo, read_number

pytestmark = pytest.mark.slow
FLEET = "testfleet"


class Recorder:
    """Keeps every message published on one subject."""

    def __init__(self) -> None:
        self.messages: list[BusMessage] = []

    async def __call__(self, message: BusMessage) -> None:
        self.messages.append(message)

    def claims(self, stream: bytes) -> list[BusMessage]:
        """The recorded beats that name `stream` (none yet is an empty list, not an error).

        A node learns of a claim when NATS delivers the beat to it, and this recorder when
        NATS delivers the same beat to the test's client: under load the node can be asked,
        and answer, before the test's client has read it, so a test may find nothing
        recorded yet right after a node has seen the claim, and must wait for it.
        """
        return [message for message in self.messages if stream in message.data]


async def replay(bus: NatsBus, messages: list[BusMessage], seconds: float) -> None:
    """Publish the recorded messages again, over and over, for `seconds`."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for message in messages:
            await bus.publish(message.subject, message.data)
        await asyncio.sleep(0.1)


async def test_recorded_beats_of_a_killed_node_do_not_bring_it_or_its_stream_back(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = super_cluster
    a = start_node("rp-a", r1, "127.0.2.1")
    victim = start_node("rp-victim", r2, "127.0.2.2")
    attacker = await NatsBus.connect([r1.url], "attacker")
    recorder = Recorder()
    await attacker.subscribe(heartbeat_subject(FLEET, "r2", "rp-victim"), recorder)
    try:
        publisher = await publish(
            HttpSignalling(http, victim.signalling), "held", WHIP_TOKEN, SyntheticVideo(160, 96)
        )
        await asyncio.to_thread(
            wait_for, "registry on a", lambda: "held" in a.cluster()["registry"]
        )
        await until("beats claiming the stream", lambda: bool(recorder.claims(b"held")))
        victim.kill()
        await publisher.pc.close()
        await asyncio.to_thread(
            wait_for, "a drops the victim", lambda: "rp-victim" not in a.member_names(), 10
        )
        replaying = asyncio.create_task(replay(attacker, recorder.messages[-20:], 3.0))
        while not replaying.done():
            view_now = a.cluster()
            assert "rp-victim" not in {m["name"] for m in view_now["members"]}
            assert "held" not in view_now["registry"]
            await asyncio.sleep(0.2)
        await replaying
        with pytest.raises(WhipError) as unknown:
            await view(HttpSignalling(http, a.signalling), "held")
        assert unknown.value.status == 404
        assert a.metric("stale_heartbeats_total") >= 20
        assert a.metric("node_up_total") == 1  # the victim joined once, never again
        assert a.log().count("refused a stale heartbeat from rp-victim") == 1  # rate-limited
    finally:
        await attacker.close()


async def test_recorded_beats_of_a_live_node_change_nothing(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    """The issue's case: an earlier claim replayed would win the stream from its publisher."""
    r1, r2 = super_cluster
    x = start_node("rl-x", r1, "127.0.2.3")
    y = start_node("rl-y", r2, "127.0.2.4")
    attacker = await NatsBus.connect([r1.url], "attacker")
    recorder = Recorder()
    await attacker.subscribe(heartbeat_subject(FLEET, "r1", "rl-x"), recorder)
    try:
        await asyncio.to_thread(wait_for, "y sees x", lambda: "rl-x" in y.member_names())
        early = await publish(
            HttpSignalling(http, x.signalling), "cam", WHIP_TOKEN, SyntheticVideo(160, 96)
        )
        await until("x's beats claiming cam", lambda: bool(recorder.claims(b"cam")))
        claims = recorder.claims(b"cam")
        assert await early.close(WHIP_TOKEN) == 200
        await asyncio.to_thread(
            wait_for, "cam released", lambda: "cam" not in y.cluster()["registry"]
        )
        source = SyntheticVideo(160, 96)
        later = await publish(HttpSignalling(http, y.signalling), "cam", WHIP_TOKEN, source)
        await asyncio.to_thread(
            wait_for, "x sees y's claim", lambda: x.cluster()["registry"].get("cam", {}).get("node")
        )
        await replay(attacker, claims, 2.0)
        for node in (x, y):
            assert node.cluster()["registry"]["cam"] == {"node": "rl-y", "region": "r2"}
        assert "earlier publisher" not in y.log()
        viewer = await view(HttpSignalling(http, x.signalling), "cam", keep_frames=True)
        await until("frames of y's publisher on x", lambda: len(viewer.frames) >= 10)
        assert all(n in source.sent_at for n in (read_number(f) for _, f in viewer.frames) if n)
        assert y.metric("stale_heartbeats_total") >= len(claims)
        await viewer.close()
        assert await later.close(WHIP_TOKEN) == 200
    finally:
        await attacker.close()


def forged_keyframes(first_number: int, count: int) -> list[bytes]:
    """VP8 keyframes showing frame numbers the real publisher never sends."""
    import av

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 160, 96, "yuv420p"
    codec.options = {"deadline": "realtime", "g": "1"}
    picture = SyntheticVideo(160, 96)
    payloads: list[bytes] = []
    for index in range(count):
        frame = picture._frame(first_number + index)
        frame.pts = index
        payloads += [bytes(packet) for packet in codec.encode(frame)]
    payloads += [bytes(packet) for packet in codec.encode(None)]
    return payloads


async def forge(bus: NatsBus, subject: str, seal: FrameSeal | None, payloads: list[bytes]) -> None:
    for index, data in enumerate(payloads):
        frame = EncodedFrame.create("video/VP8", 90_000, data, 3_000 * index)
        packed = frame.pack()
        await bus.publish(subject, seal.seal(subject, packed) if seal else packed)
        await asyncio.sleep(1 / 30)


async def test_frames_forged_into_a_streams_subject_are_not_decoded(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = super_cluster
    a = start_node("fg-a", r1, "127.0.2.5")
    b = start_node("fg-b", r2, "127.0.2.6")
    attacker = await NatsBus.connect([r2.url], "attacker")
    try:
        await asyncio.to_thread(wait_for, "b sees a", lambda: "fg-a" in b.member_names())
        source = SyntheticVideo(160, 96)
        publisher = await publish(HttpSignalling(http, a.signalling), "live", WHIP_TOKEN, source)
        await asyncio.to_thread(
            wait_for, "registry on b", lambda: "live" in b.cluster()["registry"]
        )
        viewer = await view(HttpSignalling(http, b.signalling), "live", keep_frames=True)
        await until("frames relayed to b", lambda: len(viewer.frames) >= 10)
        subject = media_subject(FLEET, "fg-a", "live", "video")
        forged = forged_keyframes(60_000, 45)
        wrong_key = FrameSeal(media_key("a guessed cluster secret"))
        for seal in (None, wrong_key):  # unsealed, and sealed under another secret
            await forge(attacker, subject, seal, forged)
        refused = b.metric("frames_refused_total")
        assert refused >= 2 * len(forged)
        await until("more real frames", lambda: len(viewer.frames) >= 60)
        shown = [n for n in (read_number(f) for _, f in viewer.frames) if n is not None]
        assert shown and all(n in source.sent_at for n in shown), "a forged frame was decoded"
        # control: the same frames sealed with the fleet's key are decoded, so the
        # refusal above is the MAC's doing and the forged frames were decodable
        await forge(attacker, subject, FrameSeal(media_key(SECRET)), forged)
        await until(
            "a frame sealed with the fleet's key shown",
            lambda: any((read_number(f) or 0) >= 60_000 for _, f in viewer.frames),
        )
        await viewer.close()
        await publisher.close(WHIP_TOKEN)
    finally:
        await attacker.close()
