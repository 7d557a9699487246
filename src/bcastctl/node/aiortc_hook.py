"""The one hook on aiortc internals: encoded frames out of an RTCRtpReceiver.

aiortc has no public API for a receiver's encoded frames. Its receiver reassembles
frames in a JitterBuffer and puts `(codec, JitterFrame)` on a private queue read by
a decoder thread (`RTCRtpReceiver.__decoder_queue`). Replaced after
setRemoteDescription and before the receiver starts, that queue hands us encoded
frames instead, and the decoder thread idles until the receiver stops.

We also swap the receiver's JitterBuffer for one that releases a frame on the RTP
marker bit (the stock one waits for the next frame's first packet: one frame
interval per hop) and remembers the media SSRC (RTX already unwrapped), so that
keyframe requests go to the media SSRC, never the RTX one.

Pinned to aiortc 1.16 (pyproject: aiortc>=1.16,<1.17); tests/node/test_node_hook.py
is the contract test. When the internals are not there, `tap_receiver` returns
None and the caller falls back to MediaRelay (decode + re-encode).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

import aiortc
from aiortc.jitterbuffer import JitterBuffer, JitterFrame

from bcastctl.node.tasks import spawn

log = logging.getLogger("bcastctl.node.hook")

PINNED_SERIES = "1.16."
_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_STARTED_ATTR = "_RTCRtpReceiver__started"

# (mimeType, clockRate, data, timestamp)
FrameSink = Callable[[str, int, bytes, int], None]


def unavailable_reason(receiver: Any | None = None) -> str | None:
    """Why the hook cannot be used (None when it can)."""
    version = getattr(aiortc, "__version__", "?")
    if not str(version).startswith(PINNED_SERIES):
        return f"aiortc {version} is not the pinned {PINNED_SERIES}x"
    if receiver is not None:
        for attr in (_QUEUE_ATTR, _JITTER_ATTR, _STARTED_ATTR):
            if not hasattr(receiver, attr):
                return f"aiortc RTCRtpReceiver has no {attr}"
        if getattr(receiver, _STARTED_ATTR):
            return "receiver already started"
    return None


class MarkerJitterBuffer(JitterBuffer):
    """Releases a frame as soon as its last packet (marker bit) is in, in order.

    Audio: every packet is a frame. A frame whose marker packet was lost is still
    released when the next frame's first packet arrives (the stock rule).
    """

    def __init__(self, capacity: int, is_video: bool) -> None:
        super().__init__(capacity=capacity, is_video=is_video)
        self.media_ssrc: int | None = None

    def add(self, packet: Any) -> tuple[bool, JitterFrame | None]:
        self.media_ssrc = packet.ssrc
        return super().add(packet)

    def _remove_frame(self, sequence_number: int) -> JitterFrame | None:
        packets: list[Any] = []
        timestamp: int | None = None
        for count in range(self.capacity):
            packet = self._packets[(self._origin + count) % self._capacity]  # type: ignore[operator]
            if packet is None:
                return None
            if timestamp is None:
                timestamp = packet.timestamp
            elif packet.timestamp != timestamp:
                return self._release(packets, timestamp, count)
            packets.append(packet)
            if packet.marker or not self._is_video:
                return self._release(packets, timestamp, count + 1)
        return None

    def _release(self, packets: list[Any], timestamp: int, count: int) -> JitterFrame:
        self.remove(count)
        return JitterFrame(data=b"".join(p._data for p in packets), timestamp=timestamp)


class EncodedTap:
    """Stands in for the receiver's decoder queue.

    `put` is called on the event loop by the receiver with `(codec, JitterFrame)`,
    or None when the receiver stops. `get` is called by aiortc's decoder thread: it
    blocks until the end, then returns None so the thread ends the remote track.
    """

    def __init__(self, sink: FrameSink, on_end: Callable[[], None]) -> None:
        self._sink = sink
        self._on_end = on_end
        self._ended = threading.Event()

    def put(self, item: Any) -> None:
        if item is None:
            if not self._ended.is_set():
                self._ended.set()
                self._on_end()
            return
        codec, frame = item
        self._sink(codec.mimeType, codec.clockRate, frame.data, frame.timestamp)

    def get(self, block: bool = True, timeout: float | None = None) -> None:
        self._ended.wait()
        return None


class ReceiverTap:
    """An installed hook: request keyframes from the publisher's media SSRC."""

    def __init__(self, receiver: Any, jitter: MarkerJitterBuffer) -> None:
        self._receiver = receiver
        self._jitter = jitter

    @property
    def media_ssrc(self) -> int | None:
        return self._jitter.media_ssrc

    def request_keyframe(self) -> bool:
        """Send a PLI to the media SSRC; False until the first packet told us that SSRC."""
        ssrc = self._jitter.media_ssrc
        if ssrc is None:
            return False
        spawn(self._receiver._send_rtcp_pli(ssrc))
        return True


def tap_receiver(
    receiver: Any, kind: str, sink: FrameSink, on_end: Callable[[], None]
) -> ReceiverTap | None:
    """Install the hook on a not-yet-started receiver; None (and a log line) if unavailable."""
    reason = unavailable_reason(receiver)
    if reason is not None:
        log.warning("encoded passthrough unavailable (%s): falling back to MediaRelay", reason)
        return None
    jitter = release_on_marker(receiver, kind)
    setattr(receiver, _QUEUE_ATTR, EncodedTap(sink, on_end))
    return ReceiverTap(receiver, jitter)


def release_on_marker(receiver: Any, kind: str) -> MarkerJitterBuffer:
    """Only the marker-bit jitter buffer (frames still go to aiortc's decoder)."""
    is_video = kind == "video"
    jitter = MarkerJitterBuffer(capacity=512 if is_video else 64, is_video=is_video)
    setattr(receiver, _JITTER_ATTR, jitter)
    return jitter


def on_keyframe_request(sender: Any, callback: Callable[[], None]) -> None:
    """Route a viewer's PLI/FIR (which aiortc turns into `_send_keyframe()`) to `callback`.

    The stock method only flags aiortc's own encoder, which passthrough never uses.
    """
    sender._send_keyframe = callback
