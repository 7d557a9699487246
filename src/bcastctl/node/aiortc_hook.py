"""The one module that hooks aiortc internals: encoded frames out of an RTCRtpReceiver,
and straight into a viewer's SRTP session.

Receive side. aiortc has no public API for a receiver's encoded frames. Its receiver reassembles
frames in a JitterBuffer and puts `(codec, JitterFrame)` on a private queue read by
a decoder thread (`RTCRtpReceiver.__decoder_queue`). Replaced after
setRemoteDescription and before the receiver starts, that queue hands us encoded
frames instead, and the decoder thread idles until the receiver stops.

We also swap the receiver's JitterBuffer for one that releases a frame on the RTP
marker bit (the stock one waits for the next frame's first packet: one frame
interval per hop) and remembers the media SSRC (RTX already unwrapped), so that
keyframe requests go to the media SSRC, never the RTX one.

Send side. aiortc's RTCRtpSender runs one task per viewer that awaits the track,
packetizes the frame, builds RtpPacket objects and awaits three coroutine layers
per packet (SRTP, ICE, socket). With hundreds of viewers of one stream that is
almost all of a node's CPU. `send_directly` replaces the sender's RTP task: the
fan-out packetizes a frame once for all viewers, and each viewer's `DirectSender`
writes its header (its SSRC, sequence, timestamp offset, payload type and header
extensions, laid out by aiortc's own serializer once per viewer), protects it
with the viewer's SRTP session and hands it to the viewer's nominated ICE socket,
synchronously. RTCP (sender reports, NACK retransmission over RTX, PLI/FIR)
stays aiortc's: the counters its sender reports use are kept, and NACKed packets
are resent from a per-viewer history.

Pinned to aiortc 1.16 (pyproject: aiortc>=1.16,<1.17); tests/node/test_node_hook.py
is the contract test. When the internals are not there, `tap_receiver` returns
None and the caller falls back to MediaRelay (decode + re-encode); a sender whose
internals are missing keeps aiortc's own RTP task (the track is read as usual).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
import threading
from collections.abc import Callable
from typing import Any

import aiortc
from aiortc import clock
from aiortc.codecs import get_encoder
from aiortc.jitterbuffer import JitterBuffer, JitterFrame
from aiortc.mediastreams import MediaStreamError
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpsender import RTCRtpSender, random_sequence_number
from aiortc.rtp import RTP_HISTORY_SIZE, RtpPacket, wrap_rtx
from aiortc.utils import random32

from bcastctl.node.tasks import spawn

log = logging.getLogger("bcastctl.node.hook")

PINNED_SERIES = "1.16."
_QUEUE_ATTR = "_RTCRtpReceiver__decoder_queue"
_JITTER_ATTR = "_RTCRtpReceiver__jitter_buffer"
_STARTED_ATTR = "_RTCRtpReceiver__started"
_SENDER = "_RTCRtpSender__"  # name-mangled private attributes of RTCRtpSender
_SENDER_ATTRS = (
    "rtp_started",
    "rtp_exited",
    "mid",
    "rtp_header_extensions_map",
    "rtx_payload_type",
    "rtx_sequence_number",
    "ntp_timestamp",
    "rtp_timestamp",
    "octet_count",
    "packet_count",
)

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


# --- send side ---------------------------------------------------------------

_RTP_FIXED = struct.Struct("!BBHII")
_ABS_SEND_TIME_MARK = 0xABCDEF  # found in the serialized template, then replaced
_NOT_CONNECTED = "not connected"


def sender_unavailable_reason(sender: Any) -> str | None:
    """Why `send_directly` cannot drive this sender (None when it can)."""
    version = getattr(aiortc, "__version__", "?")
    if not str(version).startswith(PINNED_SERIES):
        return f"aiortc {version} is not the pinned {PINNED_SERIES}x"
    for name in _SENDER_ATTRS:
        if not hasattr(sender, _SENDER + name):
            return f"aiortc RTCRtpSender has no {_SENDER}{name}"
    if not callable(getattr(RTCRtpSender, "_run_rtp", None)):
        return "aiortc RTCRtpSender has no _run_rtp"
    return None


def transport_unavailable_reason(dtls: Any) -> str | None:
    """Why DirectSender cannot write to this connected transport (None when it can)."""
    for owner, path in (
        (dtls, "_state"),
        (dtls, "_tx_srtp"),
        (dtls, "_RTCDtlsTransport__tx_bytes"),
        (dtls, "transport"),
    ):
        if not hasattr(owner, path):
            return f"aiortc RTCDtlsTransport has no {path}"
    connection = getattr(dtls.transport, "_connection", None)
    nominated = getattr(connection, "_nominated", None)
    if not isinstance(nominated, dict):
        return "aioice Connection has no _nominated pairs"
    pair = nominated.get(1)
    if pair is not None and not hasattr(getattr(pair, "protocol", None), "transport"):
        return "aioice CandidatePair has no protocol.transport"
    return None


def ntp_now() -> int:
    """The clock DirectSender.write takes as `ntp_time`."""
    return clock.current_ntp_time()


def rtp_packer(codec: Any) -> Any:
    """aiortc's packetizer for a negotiated codec: `.pack(av.Packet) -> (payloads, ts)`."""
    return get_encoder(codec)


class DirectSender:
    """One viewer's RTP, written synchronously to its SRTP session and ICE socket."""

    def __init__(self, sender: Any, codec: Any, done: asyncio.Future[None]) -> None:
        self._sender = sender
        self._done = done
        self._dtls = sender.transport
        self._payload_type: int = codec.payloadType
        self._ssrc: int = sender._ssrc
        self._sequence = random_sequence_number()
        self._timestamp_origin = random32()
        self._extensions_map = getattr(sender, _SENDER + "rtp_header_extensions_map")
        self._history: dict[int, bytes] = {}
        self._rtx_sequence: int = getattr(sender, _SENDER + "rtx_sequence_number")
        self._pre, self._post, self._has_abs = self._extension_template(
            getattr(sender, _SENDER + "mid")
        )
        self._flags = 0x90 if (self._pre or self._post or self._has_abs) else 0x80
        self._packets = 0
        self._octets = 0

    @property
    def closed(self) -> bool:
        return self._done.done()

    def close(self) -> None:
        """End this viewer's RTP task (its transport is gone, or its track ended)."""
        if not self._done.done():
            self._done.set_result(None)

    def _extension_template(self, mid: str | None) -> tuple[bytes, bytes, bool]:
        """The header extension block as aiortc lays it out, split around abs-send-time."""
        reference = RtpPacket(payload_type=self._payload_type, ssrc=self._ssrc)
        reference.extensions.abs_send_time = _ABS_SEND_TIME_MARK
        reference.extensions.mid = mid
        block = reference.serialize(self._extensions_map)[12:]
        mark = _ABS_SEND_TIME_MARK.to_bytes(3, "big")
        at = block.find(mark)
        if at < 0:
            return block, b"", False
        return block[:at], block[at + 3 :], True

    def write(self, payloads: list[bytes], timestamp: int, ntp_time: int | None = None) -> None:
        """Send one frame's payloads; raises ConnectionError once the transport is gone.

        `ntp_time` (aiortc's clock.current_ntp_time()) may be read once per frame by the
        caller for all viewers: it is the send time in abs-send-time and sender reports.
        """
        if self.closed:
            raise ConnectionError(_NOT_CONNECTED)
        if not self._sender._enabled:
            return
        dtls = self._dtls
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None or dtls._state != DtlsState.CONNECTED:
            self.close()
            raise ConnectionError(_NOT_CONNECTED)
        protect = dtls._tx_srtp.protect
        sendto, address = pair.protocol.transport.sendto, pair.remote_addr
        now = clock.current_ntp_time() if ntp_time is None else ntp_time
        if self._has_abs:
            extension = self._pre + ((now >> 14) & 0xFFFFFF).to_bytes(3, "big") + self._post
        else:
            extension = self._pre
        timestamp = (self._timestamp_origin + timestamp) & 0xFFFFFFFF
        flags, pt, ssrc, history = self._flags, self._payload_type, self._ssrc, self._history
        sequence, last = self._sequence, len(payloads) - 1
        sent = 0
        for index, payload in enumerate(payloads):
            marker = 0x80 if index == last else 0
            plain = _RTP_FIXED.pack(flags, marker | pt, sequence, timestamp, ssrc) + extension
            plain += payload
            history[sequence % RTP_HISTORY_SIZE] = plain
            data = protect(plain)
            sendto(data, address)
            sent += len(data)
            self._octets += len(payload)
            sequence = (sequence + 1) & 0xFFFF
        self._sequence = sequence
        self._packets += len(payloads)
        # what aiortc's RTCP task reports (sender reports) and getStats() show
        sender = self._sender
        setattr(sender, _SENDER + "ntp_timestamp", now)
        setattr(sender, _SENDER + "rtp_timestamp", timestamp)
        setattr(sender, _SENDER + "octet_count", self._octets)
        setattr(sender, _SENDER + "packet_count", self._packets)
        dtls._RTCDtlsTransport__tx_bytes += sent
        dtls._RTCDtlsTransport__tx_packets += len(payloads)

    async def retransmit(self, sequence_number: int) -> None:
        """A NACKed packet again, over RTX when negotiated (what aiortc's sender does)."""
        plain = self._history.get(sequence_number % RTP_HISTORY_SIZE)
        if plain is None or self.closed or self._dtls._state != DtlsState.CONNECTED:
            return
        packet = RtpPacket.parse(plain, self._extensions_map)
        if packet.sequence_number != sequence_number:
            return
        rtx_payload_type = getattr(self._sender, _SENDER + "rtx_payload_type")
        if rtx_payload_type is not None:
            packet = wrap_rtx(
                packet,
                payload_type=rtx_payload_type,
                sequence_number=self._rtx_sequence,
                ssrc=self._sender._rtx_ssrc,
            )
            self._rtx_sequence = (self._rtx_sequence + 1) & 0xFFFF
        with contextlib.suppress(ConnectionError):
            await self._dtls._send_rtp(packet.serialize(self._extensions_map))


def send_directly(
    sender: Any,
    attach: Callable[[DirectSender, Any], None],
    detach: Callable[[], None],
) -> bool:
    """Replace a not-yet-started sender's RTP task by direct writes (False: unavailable).

    When the sender starts, `attach(writer, codec)` is called; from then on the caller
    feeds frames with `writer.write(payloads, timestamp)` and the track is never read.
    The task ends (and `detach()` is called) when the sender stops, the writer finds
    its transport gone, or the caller calls `writer.close()`.
    """
    reason = sender_unavailable_reason(sender)
    if reason is not None:
        _warn_stock_sender(reason)
        return False

    async def run_rtp(codec: Any) -> None:
        reason = transport_unavailable_reason(sender.transport)
        if reason is not None:
            _warn_stock_sender(reason)
            await RTCRtpSender._run_rtp(sender, codec)
            return
        started: asyncio.Event = getattr(sender, _SENDER + "rtp_started")
        exited: asyncio.Event = getattr(sender, _SENDER + "rtp_exited")
        started.set()
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        writer = DirectSender(sender, codec, done)
        sender._retransmit = writer.retransmit
        try:
            attach(writer, codec)
            await done
        except (asyncio.CancelledError, ConnectionError, MediaStreamError):
            pass
        finally:
            writer.close()
            detach()
            track = sender.track
            if track is not None:
                track.stop()
                sender.replaceTrack(None)
            exited.set()

    sender._run_rtp = run_rtp
    return True


def _warn_stock_sender(reason: str) -> None:
    log.warning("direct RTP send unavailable (%s): aiortc's sender reads the track", reason)
