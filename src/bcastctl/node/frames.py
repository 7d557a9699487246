"""Encoded frames: keyframe detection, the av.Packet senders take, and the NATS wire format.

Wire format of one frame on media_subject(fleet, holder, stream, kind), big-endian:
  version u8 | flags u8 (bit 0 keyframe) | clock rate u32 | RTP timestamp u32
  | sent-at µs u64 (holder's wall clock, strictly increasing per track) | mime length u8
  | mime | data | MAC (16 bytes)
The MAC (FrameSeal) is HMAC-SHA256, truncated to 128 bits, over the subject and everything
before it, under the fleet's media key (derived from the cluster secret): a frame is
taken only from a holder of the cluster secret, on the subject it was sealed for. The
receiving node also refuses a frame not newer than the last one of its track or outside
the freshness window, so recorded frames published again are dropped too.
"""

from __future__ import annotations

import fractions
import hashlib
import hmac
import struct
import time
from dataclasses import dataclass, field
from functools import cache
from typing import Any

WIRE_VERSION = 2
MAX_CLOCK_RATE = 192_000  # RTP clock rates in use: 8 kHz audio up to 90 kHz video, 192 kHz
_HEADER = struct.Struct("!BBIIQB")
MAC_SIZE = 16
FRESHNESS_WINDOW_US = 10_000_000  # as heartbeats (membership.FRESHNESS_WINDOW_S)


def media_key(cluster_secret: str) -> bytes:
    """The fleet's frame-sealing key: its own derivation, never the cluster secret itself."""
    return hmac.new(cluster_secret.encode(), b"bcast media frames v1", hashlib.sha256).digest()


class FrameSeal:
    """Seals frames for a subject and opens them (ValueError when the MAC does not match).

    One keyed HMAC state per subject is kept and copied per frame, so a frame costs one
    pass of SHA-256 over its bytes (a few µs for a video frame)."""

    MAX_SUBJECTS = 1024

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._keyed: dict[str, hmac.HMAC] = {}

    def _mac(self, subject: str, payload: bytes | memoryview) -> bytes:
        keyed = self._keyed.get(subject)
        if keyed is None:
            if len(self._keyed) >= self.MAX_SUBJECTS:
                self._keyed.clear()
            keyed = hmac.new(self._key, subject.encode() + b"\0", hashlib.sha256)
            self._keyed[subject] = keyed
        state = keyed.copy()
        state.update(payload)
        return state.digest()[:MAC_SIZE]

    def seal(self, subject: str, payload: bytes) -> bytes:
        return payload + self._mac(subject, payload)

    def open(self, subject: str, data: bytes) -> memoryview:
        """The sealed payload, or ValueError for a frame this fleet's nodes did not seal."""
        if len(data) < MAC_SIZE + _HEADER.size:
            raise ValueError("frame shorter than its header and MAC")
        view = memoryview(data)
        payload, mac = view[:-MAC_SIZE], view[-MAC_SIZE:]
        if not hmac.compare_digest(self._mac(subject, payload), mac):
            raise ValueError("bad frame MAC (forged, or sealed under another cluster secret)")
        return payload


@cache
def _time_base(clock_rate: int) -> fractions.Fraction:
    return fractions.Fraction(1, clock_rate)


def is_keyframe(mime: str, data: bytes) -> bool:
    """VP8: P bit 0 in the first byte; H264: an IDR (5) or SPS (7) NAL unit; audio: always."""
    kind, _, codec = mime.lower().partition("/")
    if kind == "audio":
        return True
    if not data:
        return False
    if codec == "vp8":
        return data[0] & 0x01 == 0
    if codec == "h264":
        return _h264_has_idr(data)
    return False


def _h264_has_idr(data: bytes) -> bool:
    position = data.find(b"\x00\x00\x01")
    while position != -1 and position + 3 < len(data):
        if data[position + 3] & 0x1F in (5, 7):
            return True
        position = data.find(b"\x00\x00\x01", position + 3)
    return False


@dataclass
class EncodedFrame:
    mime: str
    clock_rate: int
    timestamp: int
    data: bytes
    keyframe: bool
    sent_at_us: int = 0
    _packet: Any = field(default=None, repr=False)
    rtp: tuple[list[bytes], int] | None = field(default=None, repr=False)  # see Fanout

    @classmethod
    def create(cls, mime: str, clock_rate: int, data: bytes, timestamp: int) -> EncodedFrame:
        return cls(
            mime, clock_rate, timestamp, data, is_keyframe(mime, data), int(time.time() * 1_000_000)
        )

    def packet(self) -> Any:
        """One av.Packet shared by every local viewer's sender (they only read it)."""
        if self._packet is None:
            import av

            packet = av.Packet(self.data)
            packet.pts = self.timestamp
            packet.time_base = _time_base(self.clock_rate)
            self._packet = packet
        return self._packet

    def pack(self) -> bytes:
        mime = self.mime.encode()
        header = _HEADER.pack(
            WIRE_VERSION,
            1 if self.keyframe else 0,
            self.clock_rate,
            self.timestamp & 0xFFFFFFFF,
            self.sent_at_us,
            len(mime),
        )
        return header + mime + self.data

    @classmethod
    def unpack(cls, payload: bytes | memoryview) -> EncodedFrame:
        if len(payload) < _HEADER.size:
            raise ValueError("frame shorter than its header")
        version, flags, clock_rate, timestamp, sent_at_us, mime_length = _HEADER.unpack_from(
            payload
        )
        if version != WIRE_VERSION:
            raise ValueError(f"frame wire version {version} unsupported")
        if not 0 < clock_rate <= MAX_CLOCK_RATE:  # 0 would divide by zero in packet()
            raise ValueError(f"frame clock rate {clock_rate} out of range 1-{MAX_CLOCK_RATE}")
        start = _HEADER.size + mime_length
        mime = bytes(payload[_HEADER.size : start]).decode()
        data = bytes(payload[start:])
        return cls(mime, clock_rate, timestamp, data, bool(flags & 1), sent_at_us)
