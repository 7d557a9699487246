"""A stream published on this node (WHIP): its peer connection, tap, fan-out and NATS relay.

Passthrough: the aiortc hook hands encoded frames to the local Fanout and, through
a pump task, to NATS (media_subject, under this node's name, each frame sealed with
the fleet's media key) for viewers on other nodes and regions, only while some node
holds an interest lease (interest_subject), so an unwatched stream costs no NATS traffic.
A keyframe request from another node is answered at once with the frames since the last
keyframe when it is recent (fanout.GopCache), besides asking the publisher for a new one.
Fallback: MediaRelay (decode once, re-encode per viewer) for local viewers; for other
nodes, while one holds an interest lease, the decoded track encoded once (reencode.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack

from bcastctl.adapters.nats_bus import BusMessage, NatsBus, Subscription
from bcastctl.node import aiortc_hook
from bcastctl.node.continuity import Adopt
from bcastctl.node.fanout import Fanout, GopCache
from bcastctl.node.frames import EncodedFrame, FrameSeal
from bcastctl.node.metrics import Metrics
from bcastctl.node.reencode import RelayEncoder, relay_mime
from bcastctl.protocol import interest_subject, keyframe_subject, media_subject

log = logging.getLogger("bcastctl.node.publish")
RELAY_QUEUE_LIMIT = 120
INTEREST_LEASE_S = 3.0  # relaying nodes renew every second (relaying.INTEREST_RENEW_S)


@dataclass
class PublishedTrack:
    kind: str
    tap: aiortc_hook.ReceiverTap | None = None
    source: MediaStreamTrack | None = None  # the remote track (fallback path)
    fanout: Fanout | None = None
    relay: MediaRelay | None = None
    encoder: RelayEncoder | None = None  # fallback path: what other nodes get


@dataclass
class LocalStream:
    stream: str
    fleet: str
    pc: RTCPeerConnection
    metrics: Metrics
    force_fallback: bool
    on_end: Callable[[], None]
    holder: str  # this node's name: media, interest and keyframe subjects carry it
    seal: FrameSeal
    adopt: Adopt | None = None  # continuity.py: viewers kept from an earlier source
    tracks: dict[str, PublishedTrack] = field(default_factory=dict)
    bus: NatsBus | None = None
    _outbox: asyncio.Queue[tuple[str, bytes]] = field(default_factory=asyncio.Queue)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _subscriptions: list[Subscription] = field(default_factory=list)
    _interest_until: float = 0.0  # time.monotonic() until which another node relays us
    _last_sent_us: dict[str, int] = field(default_factory=dict)  # per kind, for freshness
    _gop: GopCache = field(default_factory=GopCache)  # video as published, for new relays
    _ended: bool = False

    @property
    def passthrough(self) -> bool:
        return all(t.tap is not None for t in self.tracks.values())

    def attach(self, receiver: Any, track: MediaStreamTrack) -> None:
        """Called on the pc's "track" event, before the receiver starts."""
        published = self.tracks.setdefault(track.kind, PublishedTrack(track.kind))
        published.source = track
        if not self.force_fallback:
            published.tap = aiortc_hook.tap_receiver(
                receiver,
                track.kind,
                lambda *frame: self._on_frame(track.kind, *frame),
                self._receiver_ended,
            )
        counter = "passthrough_tracks_total" if published.tap else "fallback_tracks_total"
        self.metrics.inc(counter)

    def negotiated(self, codecs: dict[str, Any]) -> dict[str, str]:
        """Build fan-outs once the answer fixed each track's codec; kind -> mimeType.

        The mimes are what other nodes receive: the publisher's codec on the passthrough
        path, the relay codec (VP8 / Opus) on the fallback path."""
        mimes: dict[str, str] = {}
        for kind, published in self.tracks.items():
            codec = codecs.get(kind)
            if codec is None:
                continue
            mimes[kind] = codec.mimeType
            send_keyframe = self._keyframe_sender(published)
            adopted = self.adopt(kind, codec.mimeType, send_keyframe) if self.adopt else None
            published.fanout = adopted or Fanout(
                self.stream, kind, codec.mimeType, self.metrics, send_keyframe
            )
            relayed_as = relay_mime(kind)
            if published.tap is None and published.source is not None and relayed_as:
                published.relay = MediaRelay()
                published.encoder = RelayEncoder(kind)
                mimes[kind] = relayed_as
                self._tasks.append(asyncio.create_task(self._drain(published)))
        return mimes

    async def start_relay(self, bus: NatsBus | None) -> None:
        """Serve keyframe requests from other nodes and publish frames to NATS."""
        self.bus = bus
        if bus is None:
            return
        for subject, handler in (
            (keyframe_subject(self.fleet, self.holder, self.stream), self._on_keyframe_request),
            (interest_subject(self.fleet, self.holder, self.stream), self._on_interest),
        ):
            self._subscriptions.append(await bus.subscribe(subject, handler))
        self._tasks.append(asyncio.create_task(self._pump(bus)))

    def _keyframe_sender(self, published: PublishedTrack) -> Callable[[], None]:
        def send() -> None:
            if published.tap is not None:
                published.tap.request_keyframe()
            elif published.encoder is not None:
                published.encoder.keyframe_wanted = True

        return send

    def _on_frame(self, kind: str, mime: str, clock_rate: int, data: bytes, timestamp: int) -> None:
        published = self.tracks.get(kind)
        if published is None or published.fanout is None or self._ended:
            return
        frame = EncodedFrame.create(mime, clock_rate, data, timestamp)
        self.metrics.inc("frames_received_total")
        if kind == "video":
            self._gop.add(frame)
        published.fanout.push(frame)
        self._relay(kind, frame)

    @property
    def _relayed(self) -> bool:
        """Some node holds an interest lease: frames go to NATS."""
        return self.bus is not None and time.monotonic() < self._interest_until

    def _relay(self, kind: str, frame: EncodedFrame) -> None:
        if not (self._relayed and self._outbox.qsize() < RELAY_QUEUE_LIMIT):
            return
        # receivers drop a frame not newer than the last of its track (replays): keep
        # sent-at strictly increasing even if the wall clock steps back
        frame.sent_at_us = max(frame.sent_at_us, self._last_sent_us.get(kind, 0) + 1)
        self._last_sent_us[kind] = frame.sent_at_us
        subject = media_subject(self.fleet, self.holder, self.stream, kind)
        self._outbox.put_nowait((subject, self.seal.seal(subject, frame.pack())))

    async def _pump(self, bus: NatsBus) -> None:
        while True:
            subject, payload = await self._outbox.get()
            await bus.publish(subject, payload)
            self.metrics.inc("frames_relayed_out_total")

    async def _on_interest(self, message: BusMessage) -> None:
        self._interest_until = time.monotonic() + INTEREST_LEASE_S

    async def _on_keyframe_request(self, message: BusMessage) -> None:
        """A relaying node's viewer waits for a keyframe: send the frames since the last
        keyframe at once when it is recent (a node that starts relaying decodes from it
        one RTT after asking; nodes already relaying drop what they had, relaying.py),
        and ask the publisher for a fresh keyframe too (rate-limited)."""
        self._interest_until = time.monotonic() + INTEREST_LEASE_S
        if self._gop.frames:
            self.metrics.inc("relay_starts_from_cache_total")
        for frame in self._gop.frames:
            self._relay("video", dataclasses.replace(frame, _packet=None, rtp=None))
        published = self.tracks.get("video")
        if published is not None and published.fanout is not None:
            published.fanout.request_keyframe()

    async def _drain(self, published: PublishedTrack) -> None:
        """Fallback path: MediaRelay reads only while subscribed, so keep the source drained;
        while another node relays the stream, encode what is read once for NATS."""
        assert published.relay is not None and published.source is not None
        encoder = published.encoder
        sink = published.relay.subscribe(published.source)
        loop = asyncio.get_running_loop()
        with contextlib.suppress(MediaStreamError, asyncio.CancelledError):
            while True:
                frame = await sink.recv()
                if encoder is None:
                    continue
                if not self._relayed:
                    encoder.keyframe_wanted = True  # the next relay starts on a keyframe
                    continue
                for encoded in await loop.run_in_executor(None, encoder.encode, frame):
                    self.metrics.inc("frames_reencoded_for_relay_total")
                    self._relay(published.kind, encoded)

    def subscribe_fallback(self, kind: str) -> MediaStreamTrack | None:
        published = self.tracks.get(kind)
        if published is None or published.relay is None or published.source is None:
            return None
        track: MediaStreamTrack = published.relay.subscribe(published.source)
        return track

    def _receiver_ended(self) -> None:
        if not self._ended:
            asyncio.get_running_loop().call_soon(self.on_end)

    def hand_over(self) -> dict[str, Fanout]:
        """The passthrough fan-outs, taken away (close() leaves them to continuity.py)."""
        taken: dict[str, Fanout] = {}
        for kind, published in self.tracks.items():
            if published.fanout is not None and published.tap is not None:
                taken[kind], published.fanout = published.fanout, None
        return taken

    async def close(self) -> None:
        if self._ended:
            return
        self._ended = True
        for published in self.tracks.values():
            if published.fanout is not None:
                published.fanout.close()
        for task in self._tasks:
            task.cancel()
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
        await self.pc.close()
