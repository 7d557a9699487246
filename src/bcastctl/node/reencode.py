"""Fallback path, for other nodes: a decoded track encoded once (VP8 / Opus) for NATS.

A stream on the MediaRelay path (the aiortc hook unavailable, or BCAST_MEDIA_PATH=relay)
has no encoded frames to relay. While another node holds an interest lease, the
holder encodes the decoded track once with aiortc's own encoders and relays that,
so a viewer on any node of any region can still watch; the remote nodes then fan it
out as encoded passthrough like any other stream.
"""

from __future__ import annotations

from typing import Any

from aiortc.codecs import get_encoder
from aiortc.codecs.vpx import vp8_depayload
from aiortc.rtcrtpparameters import RTCRtpCodecParameters

from bcastctl.node.frames import EncodedFrame

# kind -> (mimeType, clock rate, channels) of what a fallback stream is relayed as
RELAY_CODECS: dict[str, tuple[str, int, int | None]] = {
    "video": ("video/VP8", 90_000, None),
    "audio": ("audio/opus", 48_000, 2),
}
OPUS_FRAME_SAMPLES = 960  # aiortc's Opus encoder: 20 ms frames at 48 kHz


def relay_mime(kind: str) -> str | None:
    codec = RELAY_CODECS.get(kind)
    return codec[0] if codec else None


class RelayEncoder:
    """Encodes one decoded track once; `encode` runs in a worker thread."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.mime, self.clock_rate, channels = RELAY_CODECS[kind]
        self._encoder = get_encoder(
            RTCRtpCodecParameters(
                mimeType=self.mime, clockRate=self.clock_rate, channels=channels, payloadType=0
            )
        )
        self.keyframe_wanted = True  # a relay starts on a keyframe

    def encode(self, frame: Any) -> list[EncodedFrame]:
        force, self.keyframe_wanted = self.keyframe_wanted, False
        payloads, timestamp = self._encoder.encode(frame, force)
        if not payloads:
            return []
        if self.kind == "video":  # aiortc packetizes: join the payloads back into a frame
            data = b"".join(vp8_depayload(payload) for payload in payloads)
            return [EncodedFrame.create(self.mime, self.clock_rate, data, timestamp)]
        return [
            EncodedFrame.create(
                self.mime, self.clock_rate, payload, timestamp + index * OPUS_FRAME_SAMPLES
            )
            for index, payload in enumerate(payloads)
        ]
