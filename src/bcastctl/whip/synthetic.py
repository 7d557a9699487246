"""Synthetic video sources whose frames carry their number, and the reader of that number.

Used by the media check, tests and bench/. Each synthetic frame shows its frame
number as 16 black/white blocks across the top band, so a viewer that decodes a
frame can tell which one it is (and how long it took to arrive). The rest of the
picture is a scrolling texture of random blocks, so the encoder spends its bitrate (~500 kbps VP8).
"""

from __future__ import annotations

import asyncio
import fractions
import os
import time
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

BITS = 16
BAND = 40  # rows of the number band
VIDEO_CLOCK = 90_000


class SyntheticVideo(MediaStreamTrack):
    kind = "video"

    def __init__(
        self, width: int = 640, height: int = 360, fps: int = 30, first_number: int = 0
    ) -> None:
        """`first_number`: where numbering starts (a re-publish carries on where the clock
        says the last one would be, so a viewer can count the frames an outage cost)."""
        super().__init__()
        self.width, self.height, self.fps = width, height, fps
        self.sent_at: dict[int, float] = {}  # frame number -> time.monotonic() handed out
        self._count = first_number
        self._start: float | None = None
        self._texture = _blocky_texture(width * 2, height - BAND)
        self._chroma = bytes([128]) * ((width // 2) * (height // 2))

    def _luma(self, number: int) -> bytes:
        block = self.width // BITS
        row = b"".join(
            (b"\xeb" if number >> (BITS - 1 - bit) & 1 else b"\x10") * block for bit in range(BITS)
        ).ljust(self.width, b"\x10")
        # the texture scrolls 3 px per frame: motion the encoder must follow
        offset = (number * 3) % self.width
        texture_width = self.width * 2
        picture = b"".join(
            self._texture[y * texture_width + offset : y * texture_width + offset + self.width]
            for y in range(self.height - BAND)
        )
        return row * BAND + picture

    async def recv(self) -> Any:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic() - self._count / self.fps
        due = self._start + self._count / self.fps
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        number = self._count & 0xFFFF
        frame = self._frame(number)
        frame.pts = int(self._count * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.sent_at[number] = time.monotonic()
        self._count += 1
        return frame

    def _frame(self, number: int) -> Any:
        import av

        frame = av.VideoFrame(width=self.width, height=self.height, format="yuv420p")
        frame.planes[0].update(self._luma(number))
        frame.planes[1].update(self._chroma)
        frame.planes[2].update(self._chroma)
        return frame


class EncodedLoop(MediaStreamTrack):
    """Pre-encoded VP8 of a SyntheticVideo, sent in a loop as av.Packet (no encoding while
    publishing, so a load test's publisher costs almost nothing). A keyframe every
    `gop` frames, since a loop cannot answer keyframe requests."""

    kind = "video"

    def __init__(
        self,
        width: int = 640,
        height: int = 360,
        fps: int = 30,
        seconds: int = 4,
        bitrate: int = 500_000,
        gop: int = 30,
    ) -> None:
        import av

        super().__init__()
        self.fps = fps
        source = SyntheticVideo(width, height, fps)
        codec = av.CodecContext.create("libvpx", "w")
        codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
        codec.bit_rate, codec.gop_size = bitrate, gop
        codec.time_base = fractions.Fraction(1, fps)
        rate = str(bitrate)
        codec.options = {
            "deadline": "realtime",
            "cpu-used": "8",
            "lag-in-frames": "0",
            "b": rate,
            "maxrate": rate,
            "bufsize": rate,
        }
        self._payloads: list[bytes] = []
        for index in range(fps * seconds):
            frame = source._frame(index)
            frame.pts, frame.time_base = index, codec.time_base
            self._payloads += [bytes(p) for p in codec.encode(frame)]
        self._payloads += [bytes(p) for p in codec.encode(None)]
        self._count = 0
        self._start: float | None = None

    @property
    def bytes_per_second(self) -> float:
        return sum(len(p) for p in self._payloads) * self.fps / len(self._payloads)

    async def recv(self) -> Any:
        import av

        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._count / self.fps - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        packet = av.Packet(self._payloads[self._count % len(self._payloads)])
        packet.pts = int(self._count * VIDEO_CLOCK / self.fps)
        packet.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self._count += 1
        return packet


def _blocky_texture(width: int, height: int, block: int = 8) -> bytes:
    """Random grey blocks: detail a 500 kbps VP8 encoder can afford (pure noise cannot)."""
    columns = -(-width // block)
    rows = []
    for _ in range(-(-height // block)):
        values = os.urandom(columns)
        row = b"".join(bytes([48 + v % 160]) * block for v in values)[:width]
        rows += [row] * block
    return b"".join(rows[:height])


def read_number(frame: Any) -> int | None:
    """The frame number a SyntheticVideo frame shows (None if the band is unreadable)."""
    plane = frame.planes[0]
    if frame.width < BITS * 4 or frame.height < BAND:
        return None
    data = bytes(plane)
    block = frame.width // BITS
    row = (BAND // 2) * plane.line_size
    number = 0
    for bit in range(BITS):
        value = data[row + bit * block + block // 2]
        if 60 < value < 190:
            return None
        number = number << 1 | (1 if value >= 128 else 0)
    return number
