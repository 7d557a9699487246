"""Contract test of the one hook on aiortc internals (node/aiortc_hook.py).

If aiortc changes what the hook relies on, these tests fail loudly: bump the pin in
pyproject.toml only together with this file and the hook.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiortc
from aiortc import RTCConfiguration, RTCPeerConnection
from aiortc.rtp import RtpPacket
from node_testkit import intercept_rtp

from bcastctl.adapters import ice
from bcastctl.node import aiortc_hook
from bcastctl.node.frames import is_keyframe
from bcastctl.whip.synthetic import EncodedLoop, SyntheticVideo, read_number

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_aiortc_is_the_pinned_series() -> None:
    pin = re.search(r'"aiortc>=([\d.]+),<([\d.]+)"', PYPROJECT.read_text())
    assert pin is not None, "pyproject.toml must pin aiortc to a minor series"
    assert pin.group(1) == "1.16" and pin.group(2) == "1.17"
    assert aiortc.__version__.startswith(aiortc_hook.PINNED_SERIES)
    assert aiortc_hook.unavailable_reason() is None


def packet(seq: int, timestamp: int, marker: int, data: bytes) -> RtpPacket:
    p = RtpPacket(
        payload_type=96, marker=marker, sequence_number=seq, timestamp=timestamp, ssrc=1234
    )
    p._data = data  # type: ignore[attr-defined]
    return p


def test_marker_bit_releases_a_frame_without_waiting_for_the_next_one() -> None:
    jitter = aiortc_hook.MarkerJitterBuffer(capacity=128, is_video=True)
    assert jitter.add(packet(10, 3000, 0, b"ab")) == (False, None)
    _, frame = jitter.add(packet(11, 3000, 1, b"cd"))
    assert frame is not None and frame.data == b"abcd" and frame.timestamp == 3000
    # a frame whose marker packet was lost is still released by the next frame's first packet
    assert jitter.add(packet(12, 6000, 0, b"ef"))[1] is None
    frame = jitter.add(packet(14, 9000, 0, b"ij"))[1]
    assert frame is None  # 13 missing: nothing is released out of order
    assert jitter.media_ssrc == 1234


async def test_tap_yields_encoded_frames_and_pli_reaches_the_media_ssrc() -> None:
    ice.offer_only("127.0.0.1")
    sender_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    frames: list[tuple[str, int, bytes, int]] = []
    ten_frames, keyframe_requested = asyncio.Event(), asyncio.Event()

    def on_frame(*frame: Any) -> None:
        frames.append(frame)
        if len(frames) >= 10:
            ten_frames.set()

    taps: list[aiortc_hook.ReceiverTap | None] = []
    try:
        transceiver = sender_pc.addTransceiver(SyntheticVideo(160, 96), direction="sendonly")
        aiortc_hook.on_keyframe_request(transceiver.sender, keyframe_requested.set)

        @receiver_pc.on("track")
        def on_track(track: aiortc.MediaStreamTrack) -> None:
            receiver = next(
                t.receiver for t in receiver_pc.getTransceivers() if t.receiver.track is track
            )
            taps.append(aiortc_hook.tap_receiver(receiver, "video", on_frame, lambda: None))

        await sender_pc.setLocalDescription(await sender_pc.createOffer())
        await receiver_pc.setRemoteDescription(sender_pc.localDescription)
        await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
        await sender_pc.setRemoteDescription(receiver_pc.localDescription)
        async with asyncio.timeout(10):
            await ten_frames.wait()
        tap = taps[0]
        assert tap is not None, "the hook could not be installed on aiortc's receiver"
        mime, clock_rate, data, _ = frames[0]
        assert (mime, clock_rate) == ("video/VP8", 90000)
        assert is_keyframe(mime, data) and not is_keyframe(mime, frames[5][2])
        assert [f[3] for f in frames] == sorted(f[3] for f in frames)
        assert tap.media_ssrc == transceiver.sender._ssrc  # never the RTX SSRC
        assert tap.media_ssrc != transceiver.sender._rtx_ssrc
        assert tap.request_keyframe()
        async with asyncio.timeout(5):
            await keyframe_requested.wait()
    finally:
        await sender_pc.close()
        await receiver_pc.close()
        ice.restore()


def test_a_started_receiver_is_refused_with_a_reason() -> None:
    class Started:
        _RTCRtpReceiver__decoder_queue = None
        _RTCRtpReceiver__jitter_buffer = None
        _RTCRtpReceiver__started = True

    assert aiortc_hook.tap_receiver(Started(), "video", lambda *f: None, lambda: None) is None
    assert aiortc_hook.unavailable_reason(object()) is not None


# --- send side: DirectSender ------------------------------------------------


async def test_direct_sender_frames_decode_and_a_lost_packet_comes_back_over_rtx() -> None:
    """A viewer of a directly written track decodes every frame in order, even when one
    RTP packet is lost on the way: its NACK is answered from the history over RTX."""
    ice.offer_only("127.0.0.1")
    sender_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver_pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    source = EncodedLoop(320, 180, seconds=2, gop=120)
    feeding: list[asyncio.Task[None]] = []
    decoded: list[int | None] = []
    lost: list[int] = []
    rtx_seen: list[int] = []
    sixty = asyncio.Event()
    try:
        transceiver = sender_pc.addTransceiver(source, direction="sendonly")
        sender = transceiver.sender

        def attach(writer: aiortc_hook.DirectSender, codec: Any) -> None:
            packer = aiortc_hook.rtp_packer(codec)

            async def feed() -> None:
                while not writer.closed:
                    writer.write(*packer.pack(await source.recv()))

            feeding.append(asyncio.create_task(feed()))

        assert aiortc_hook.send_directly(sender, attach, lambda: None)
        assert aiortc_hook.sender_unavailable_reason(sender) is None

        @receiver_pc.on("track")
        def on_track(track: aiortc.MediaStreamTrack) -> None:
            async def read() -> None:
                while True:
                    decoded.append(read_number(await track.recv()))
                    if len(decoded) >= 60:
                        sixty.set()

            feeding.append(asyncio.create_task(read()))

        await sender_pc.setLocalDescription(await sender_pc.createOffer())
        await receiver_pc.setRemoteDescription(sender_pc.localDescription)
        await receiver_pc.setLocalDescription(await receiver_pc.createAnswer())
        await sender_pc.setRemoteDescription(receiver_pc.localDescription)
        connected = asyncio.Event()
        receiver_pc.on("connectionstatechange", lambda: connected.set())
        async with asyncio.timeout(10):
            while receiver_pc.connectionState != "connected":
                connected.clear()
                await connected.wait()
        drop_lost_packet(receiver_pc, sender._ssrc, sender._rtx_ssrc, lost, rtx_seen)
        async with asyncio.timeout(15):
            await sixty.wait()
        assert aiortc_hook.transport_unavailable_reason(sender.transport) is None
        assert feeding, "the direct path never started (it fell back to aiortc's task)"
        assert lost, "no packet was dropped"
        assert rtx_seen, "the lost packet was never retransmitted over RTX"
        numbers = [n for n in decoded if n is not None]
        assert len(numbers) >= 55 and numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        stats = await sender.getStats()
        outbound = next(s for s in stats.values() if s.type == "outbound-rtp")
        assert outbound.packetsSent >= 60 and outbound.bytesSent > 0  # what SRs report
    finally:
        for task in feeding:
            task.cancel()
        await sender_pc.close()
        await receiver_pc.close()
        ice.restore()


def drop_lost_packet(
    pc: RTCPeerConnection, ssrc: int, rtx_ssrc: int, lost: list[int], rtx_seen: list[int]
) -> None:
    """Drop the 40th media packet to arrive at `pc`; note RTX packets after it."""
    media = [0]

    def on_rtp(data: bytes) -> bool:
        packet_ssrc = int.from_bytes(data[8:12], "big")
        if packet_ssrc == ssrc:
            media[0] += 1
            if media[0] == 40:
                lost.append(int.from_bytes(data[2:4], "big"))
                return True  # dropped
        elif packet_ssrc == rtx_ssrc and lost:
            rtx_seen.append(int.from_bytes(data[2:4], "big"))
        return False

    assert intercept_rtp(pc, on_rtp)


def test_a_sender_without_the_internals_keeps_aiortcs_own_task() -> None:
    class Bare:
        _run_rtp = None

    bare = Bare()
    assert aiortc_hook.sender_unavailable_reason(bare) is not None
    assert not aiortc_hook.send_directly(bare, lambda writer, codec: None, lambda: None)
    assert bare._run_rtp is None  # untouched


def test_a_transport_without_the_internals_is_refused_with_a_reason() -> None:
    class Dtls:
        _state = None
        _tx_srtp = None
        _RTCDtlsTransport__tx_bytes = 0
        transport = object()  # an ICE transport without aioice's _connection

    reason = aiortc_hook.transport_unavailable_reason(Dtls())
    assert reason is not None and "_nominated" in reason
    assert aiortc_hook.transport_unavailable_reason(object()) is not None
