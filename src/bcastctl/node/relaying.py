"""A stream held by another node, received over NATS for this node's viewers.

One NATS subscription per track while at least one local viewer watches (so the
super-cluster's interest-only gateways carry a stream only where it is watched),
an interest lease renewed every second (the holder publishes frames only while
some node holds one), and keyframe requests back to the holder on keyframe_subject.
Frames are listened for only under the registry's holder, and taken only when their
MAC opens under the fleet's media key and they are newer than the last of their track
and within the freshness window (frames.py): forged or replayed frames are dropped.
A holder answers a keyframe request with its cached frames since a recent keyframe
(publishing.py), so a node starting to relay decodes one RTT after asking; a node
already relaying drops those re-sent video frames by their media timestamp.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bcastctl.adapters.nats_bus import BusMessage, NatsBus, Subscription
from bcastctl.node.continuity import Adopt
from bcastctl.node.fanout import Fanout
from bcastctl.node.frames import FRESHNESS_WINDOW_US, EncodedFrame, FrameSeal
from bcastctl.node.metrics import Metrics
from bcastctl.node.tasks import spawn
from bcastctl.protocol import interest_subject, keyframe_subject, media_subject

log = logging.getLogger("bcastctl.node.relay")
INTEREST_RENEW_S = 1.0
REPLAY_WINDOW_S = 2.0  # frames this far behind the newest are re-sent ones, not a new source


@dataclass
class RemoteStream:
    stream: str
    holder: str
    fleet: str
    bus: NatsBus
    metrics: Metrics
    tracks: dict[str, str]  # kind -> mimeType
    on_unused: Callable[[RemoteStream], None]
    seal: FrameSeal
    adopt: Adopt | None = None  # continuity.py: viewers kept from an earlier source
    fanouts: dict[str, Fanout] = field(default_factory=dict)
    _last_sent_us: dict[str, int] = field(default_factory=dict)  # per kind
    _last_timestamp: dict[str, int] = field(default_factory=dict)  # media timestamp, per kind
    _refusals_logged: int = 0
    _subscriptions: list[Subscription] = field(default_factory=list)
    _renewal: asyncio.Task[None] | None = None
    _closed: bool = False

    async def open(self) -> None:
        for kind, mime in self.tracks.items():
            adopted = self.adopt(kind, mime, self._request_keyframe) if self.adopt else None
            fanout = adopted or Fanout(
                self.stream, kind, mime, self.metrics, self._request_keyframe
            )
            fanout.on_empty = self._check_unused
            self.fanouts[kind] = fanout
            subject = media_subject(self.fleet, self.holder, self.stream, kind)
            self._subscriptions.append(await self.bus.subscribe(subject, self._on_frame))
        await self.bus.flush()
        self._renewal = asyncio.create_task(self._renew_interest())
        log.info("relaying %s from %s over NATS", self.stream, self.holder)

    async def _renew_interest(self) -> None:
        subject = interest_subject(self.fleet, self.holder, self.stream)
        while True:
            await self.bus.publish(subject, b"")
            await asyncio.sleep(INTEREST_RENEW_S)

    async def _on_frame(self, message: BusMessage) -> None:
        kind = message.subject.rsplit(".", 1)[-1]
        fanout = self.fanouts.get(kind)
        if fanout is None:
            return
        try:
            frame = EncodedFrame.unpack(self.seal.open(message.subject, message.data))
            self._check_fresh(kind, frame.sent_at_us)
        except ValueError as e:
            self._refuse(e)
            return
        if self._already_pushed(kind, frame):
            self.metrics.inc("frames_relayed_duplicate_total")
            return
        self.metrics.inc("frames_relayed_in_total")
        fanout.push(frame)

    def _check_fresh(self, kind: str, sent_at_us: int) -> None:
        last = self._last_sent_us.get(kind, 0)
        if sent_at_us <= last:
            raise ValueError("frame not newer than the last of its track (replayed)")
        if abs(time.time() * 1_000_000 - sent_at_us) > FRESHNESS_WINDOW_US:
            raise ValueError("frame sent outside the freshness window (replayed)")
        self._last_sent_us[kind] = sent_at_us

    def _already_pushed(self, kind: str, frame: EncodedFrame) -> bool:
        """A video frame at or up to REPLAY_WINDOW_S behind the newest pushed since a
        keyframe: the holder re-sent its cached frames for another node (publishing.py).
        Before the first keyframe nothing is recorded, so a node starting to relay takes
        the cached keyframe and the frames after it even behind a live frame."""
        if kind != "video":
            return False
        last = self._last_timestamp.get(kind)
        if last is None:
            if frame.keyframe:
                self._last_timestamp[kind] = frame.timestamp
            return False
        behind = (last - frame.timestamp) & 0xFFFFFFFF  # RTP timestamps wrap (RFC 3550)
        if behind <= REPLAY_WINDOW_S * frame.clock_rate:
            return True
        self._last_timestamp[kind] = frame.timestamp  # newer (or a new source far away)
        return False

    def _refuse(self, error: ValueError) -> None:
        self.metrics.inc("frames_refused_total")
        if self._refusals_logged < 3:  # a flood of forgeries must not flood the log
            self._refusals_logged += 1
            log.warning("dropped a frame of %s from NATS: %s", self.stream, error)

    def _request_keyframe(self) -> None:
        subject = keyframe_subject(self.fleet, self.holder, self.stream)
        spawn(self.bus.publish(subject, b""))

    def _check_unused(self) -> None:
        if not self._closed and all(not f.viewers for f in self.fanouts.values()):
            self.on_unused(self)

    def hand_over(self) -> dict[str, Fanout]:
        """The fan-outs, taken away (close() leaves them to continuity.py)."""
        taken, self.fanouts = self.fanouts, {}
        return taken

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._renewal is not None:
            self._renewal.cancel()
        for fanout in self.fanouts.values():
            fanout.close()
        for subscription in self._subscriptions:
            await subscription.unsubscribe()
