"""Fan-out of one encoded track to local viewers, with rate-limited keyframe requests.

A Fanout is fed by a local publisher (through the aiortc hook) or by NATS (a
stream held on another node). Each viewer gets a ForwardTrack. Normally its
sender is driven directly (aiortc_hook.send_directly): the fanout packetizes each
frame once and every viewer's DirectSender writes it out at once, with no task
per viewer. Without that hook the track works as a plain MediaStreamTrack whose
recv() returns av.Packet, so aiortc's own sender packetizes without encoding; such
a viewer starts on a keyframe and, when it falls behind, skips to the next one.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bcastctl.node import aiortc_hook
from bcastctl.node.clock import Clock, LoopClock, Timer
from bcastctl.node.frames import EncodedFrame
from bcastctl.node.metrics import Metrics

QUEUE_LIMIT = 60  # frames (2 s at 30 fps): beyond that the viewer skips to a keyframe
KEYFRAME_MIN_INTERVAL_S = 0.4  # above Chrome's 300 ms, so a deferred request is honoured
# While a viewer waits for its first keyframe the request is repeated: a publisher may
# drop a PLI (Chrome ignores those within 300 ms of its last keyframe), or it may be lost.
KEYFRAME_RETRY_S = 0.5
# A joining viewer starts from the cached frames since the last keyframe when that
# keyframe is recent: it starts at once, and a burst of joiners costs the publisher one
# keyframe instead of a keyframe each.
JOIN_FROM_CACHE_MAX_FRAMES = 15


class GopCache:
    """The frames since the last keyframe while that keyframe is recent: a joiner (a local
    viewer, or a node starting to relay the stream) starts on them at once."""

    def __init__(self) -> None:
        self.frames: list[EncodedFrame] = []

    def add(self, frame: EncodedFrame) -> None:
        if frame.keyframe:
            self.frames = [frame]
        elif 0 < len(self.frames) < JOIN_FROM_CACHE_MAX_FRAMES:
            self.frames.append(frame)
        else:
            self.frames = []  # too old to start on: a joiner asks for a new keyframe

    def clear(self) -> None:
        self.frames = []


class KeyframeLimiter:
    """At most one keyframe request per interval; a request inside the window is sent at
    its end (so a joining viewer never waits for the publisher's next natural keyframe)."""

    def __init__(
        self,
        send: Callable[[], None],
        metrics: Metrics,
        clock: Clock,
        interval_s: float = KEYFRAME_MIN_INTERVAL_S,
    ) -> None:
        self._send = send
        self._metrics = metrics
        self._clock = clock
        self._interval_s = interval_s
        self._last = -1e9
        self._pending: Timer | None = None

    def request(self) -> None:
        now = self._clock.now()
        wait = self._last + self._interval_s - now
        if wait <= 0:
            self._fire()
        elif self._pending is None:
            self._metrics.inc("keyframe_requests_limited_total")
            self._pending = self._clock.call_later(wait, self._fire)
        else:
            self._metrics.inc("keyframe_requests_limited_total")

    def _fire(self) -> None:
        self._pending = None
        self._last = self._clock.now()
        self._metrics.inc("keyframe_requests_total")
        self._send()

    def cancel(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None

    def rebind(self, send: Callable[[], None]) -> None:
        """Send future requests to another source (the stream's publisher came back)."""
        self.cancel()
        self._send = send
        self._last = -1e9


class TimestampRebase:
    """RTP timestamps that run on across a change of source.

    A new publisher starts its timestamps anywhere (RFC 3550 picks them at random); the
    first frame after a change is placed one wall-clock interval after the last frame
    sent, and later frames keep the new source's spacing, so a viewer's decoder and
    jitter buffer see one stream. Sequence numbers and SSRC are the viewer's own
    sender's (aiortc_hook.DirectSender), which run on by themselves.
    """

    def __init__(self) -> None:
        self._offset = 0
        self._last: tuple[int, float] | None = None  # (timestamp out, time.monotonic())
        self._pending = False

    def new_source(self) -> None:
        self._pending = self._last is not None

    def apply(self, frame: EncodedFrame) -> EncodedFrame:
        now = time.monotonic()
        if self._pending and self._last is not None:
            last_timestamp, last_at = self._last
            advance = max(1, round((now - last_at) * frame.clock_rate))
            self._offset = (last_timestamp + advance - frame.timestamp) & 0xFFFFFFFF
            self._pending = False
        if self._offset:
            timestamp = (frame.timestamp + self._offset) & 0xFFFFFFFF
            frame = dataclasses.replace(frame, timestamp=timestamp, _packet=None, rtp=None)
        self._last = (frame.timestamp, now)
        return frame


class ForwardTrack(MediaStreamTrack):
    """One viewer's track: encoded frames in, av.Packet out."""

    def __init__(self, kind: str, fanout: Fanout) -> None:
        super().__init__()
        self.kind = kind
        self._fanout = fanout
        self._frames: deque[EncodedFrame] = deque()
        self._wakeup = asyncio.Event()
        self._synced = kind != "video"  # video waits for a keyframe
        self._ended = False
        self._writer: aiortc_hook.DirectSender | None = None
        self._read = False

    def attach(self, writer: aiortc_hook.DirectSender, codec: Any) -> None:
        """The sender started on the direct path: frames go to `writer` from now on."""
        self._fanout.count_sender("viewer_tracks_direct_total")
        self._fanout.use_codec(codec)
        self._writer = writer
        for frame in self._frames:  # what came while ICE and DTLS were being set up
            self._write(frame)
        self._frames.clear()

    def detach(self) -> None:
        self._writer = None

    def _write(self, frame: EncodedFrame) -> None:
        assert self._writer is not None
        payloads, timestamp = self._fanout.packetized(frame)
        try:
            self._writer.write(payloads, timestamp, self._fanout.send_time)
        except ConnectionError:  # the viewer is gone: its sender task ends and removes us
            self._writer = None
            self._ended = True
            return
        self._fanout.count_forwarded(frame)

    def push(self, frame: EncodedFrame) -> None:
        if self._ended:
            return
        if not self._synced:
            if not frame.keyframe:
                return
            self._synced = True
        if self._writer is not None:
            self._write(frame)
            return
        if len(self._frames) >= QUEUE_LIMIT:
            self._fanout.count_overflow()
            self._frames.clear()
            self._synced = self.kind != "video"
            self._fanout.request_keyframe()
            self._fanout.schedule_keyframe_retry()
            if not self._synced:
                return
        self._frames.append(frame)
        self._wakeup.set()

    def resync(self) -> None:
        """A new source: drop what the old one left queued, start again on a keyframe."""
        self._frames.clear()
        self._synced = self.kind != "video"

    @property
    def waiting(self) -> bool:
        """Still waiting for a keyframe to start (or restart) on."""
        return not self._synced

    def end(self) -> None:
        self._ended = True
        self._wakeup.set()
        if self._writer is not None:
            self._writer.close()

    async def recv(self) -> Any:
        if not self._read:  # only aiortc's own sender reads the track (no direct path)
            self._read = True
            self._fanout.count_sender("viewer_tracks_stock_sender_total")
        while not self._frames:
            if self._ended or self.readyState != "live":
                raise MediaStreamError
            self._wakeup.clear()
            await self._wakeup.wait()
        frame = self._frames.popleft()
        self._fanout.count_forwarded(frame)
        return frame.packet()

    def stop(self) -> None:
        super().stop()
        self._fanout.remove(self)
        self._wakeup.set()


class Fanout:
    """One track of one stream on this node: its local viewers and keyframe requests."""

    def __init__(
        self,
        stream: str,
        kind: str,
        mime: str,
        metrics: Metrics,
        send_keyframe_request: Callable[[], None],
        clock: Clock | None = None,
    ) -> None:
        self.stream = stream
        self.kind = kind
        self.mime = mime
        self._metrics = metrics
        self._clock = clock or LoopClock()
        self._limiter = KeyframeLimiter(send_keyframe_request, metrics, self._clock)
        self.viewers: set[ForwardTrack] = set()
        self.on_empty: Callable[[], None] = lambda: None
        self._retry: Timer | None = None
        self._since_keyframe = GopCache()
        self._packer: Any = None  # aiortc's packetizer, shared by the direct senders
        self._rebase = TimestampRebase()
        self.send_time: int | None = None  # NTP time of the frame being pushed

    def detach_source(self) -> None:
        """The source is gone; the viewers stay (continuity.py) until one resumes them."""
        self._limiter.rebind(lambda: None)

    def resume(self, send_keyframe_request: Callable[[], None]) -> None:
        """A new source of the same stream feeds these viewers: timestamps run on, every
        viewer waits for the new source's first keyframe, and one is asked for at once."""
        self._limiter.rebind(send_keyframe_request)
        self._rebase.new_source()
        self._since_keyframe.clear()
        for viewer in self.viewers:
            viewer.resync()
        self._metrics.inc("viewer_tracks_resumed_total", len(self.viewers))
        if self.kind == "video" and self.viewers:
            self.request_keyframe()
            self.schedule_keyframe_retry()

    def use_codec(self, codec: Any) -> None:
        if self._packer is None:
            self._packer = aiortc_hook.rtp_packer(codec)

    def packetized(self, frame: EncodedFrame) -> tuple[list[bytes], int]:
        """The frame's RTP payloads, made once for every viewer (VP8 picture ids run
        on per stream, so a viewer that skipped frames sees the gap)."""
        if frame.rtp is None:
            frame.rtp = self._packer.pack(frame.packet())
        return frame.rtp

    def add_viewer(self) -> ForwardTrack:
        track = ForwardTrack(self.kind, self)
        self.viewers.add(track)
        if self.kind != "video":
            return track
        if self._since_keyframe.frames:
            self._metrics.inc("viewers_started_from_cache_total")
            for frame in self._since_keyframe.frames:
                track.push(frame)
        else:
            self.request_keyframe()
            self.schedule_keyframe_retry()
        return track

    def schedule_keyframe_retry(self) -> None:
        if self._retry is None:
            with contextlib.suppress(RuntimeError):  # no running loop: shutting down
                self._retry = self._clock.call_later(KEYFRAME_RETRY_S, self._retry_if_waiting)

    def _retry_if_waiting(self) -> None:
        self._retry = None
        if any(viewer.waiting for viewer in self.viewers):
            self.request_keyframe()
            self.schedule_keyframe_retry()

    def remove(self, track: ForwardTrack) -> None:
        self.viewers.discard(track)
        if not self.viewers:
            self.on_empty()

    def push(self, frame: EncodedFrame) -> None:
        frame = self._rebase.apply(frame)
        self.send_time = aiortc_hook.ntp_now()  # one clock read per frame for all viewers
        self._since_keyframe.add(frame)
        for viewer in self.viewers:
            viewer.push(frame)

    def count_sender(self, counter: str) -> None:
        self._metrics.inc(counter)

    def count_overflow(self) -> None:
        self._metrics.inc("viewer_queue_overflows_total")

    def count_forwarded(self, frame: EncodedFrame) -> None:
        self._metrics.inc("frames_forwarded_total")
        self._metrics.inc("bytes_forwarded_total", len(frame.data))

    def request_keyframe(self) -> None:
        if self.kind == "video":
            with contextlib.suppress(RuntimeError):  # no running loop: shutting down
                self._limiter.request()

    def close(self) -> None:
        self._limiter.cancel()
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        for viewer in list(self.viewers):
            viewer.end()
        self.viewers.clear()
