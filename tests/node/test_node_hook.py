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

from bcastctl.adapters import ice
from bcastctl.node import aiortc_hook
from bcastctl.node.client import SyntheticVideo
from bcastctl.node.frames import is_keyframe

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
