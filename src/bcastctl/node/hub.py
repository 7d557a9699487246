"""The media hub: WHIP publishers and WHEP viewers on this node, and where streams come from.

A viewer's stream is found in the global registry: held here (local Fanout or
MediaRelay) or on another node (RemoteStream over NATS). The hub also reacts to
registry changes: a lost claim ends our publisher; a vanished holder ends relays.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription

from bcastctl.adapters import ice
from bcastctl.node import aiortc_hook, sdp
from bcastctl.node.cluster import Cluster
from bcastctl.node.connecting import ConnectGate
from bcastctl.node.continuity import Continuity
from bcastctl.node.frames import FrameSeal, media_key
from bcastctl.node.http_errors import HttpProblem
from bcastctl.node.metrics import Metrics
from bcastctl.node.publishing import LocalStream
from bcastctl.node.relaying import RemoteStream
from bcastctl.node.routing import new_resource_id
from bcastctl.node.settings import NodeSettings
from bcastctl.node.tasks import spawn

log = logging.getLogger("bcastctl.node.media")
NEGOTIATION_TIMEOUT_S = 10.0


@dataclass
class Session:
    id: str
    role: str  # "publisher" | "viewer"
    stream: str
    pc: RTCPeerConnection
    created: float


class MediaHub:
    def __init__(self, settings: NodeSettings, metrics: Metrics, cluster: Cluster) -> None:
        self.settings = settings
        self.metrics = metrics
        self.cluster = cluster
        self.sessions: dict[str, Session] = {}
        self.local: dict[str, LocalStream] = {}
        self.remote: dict[str, RemoteStream] = {}
        self._closing: set[str] = set()
        self.connecting = ConnectGate(
            settings.connect_deadline_s,
            settings.max_connecting,
            metrics,
            lambda session_id: spawn(self.end(session_id)),
        )
        self.seal = FrameSeal(media_key(settings.cluster_secret))
        self.continuity = Continuity(metrics, self._end_viewers)

    # --- state for metrics and heartbeats ------------------------------------------------

    def session_count(self) -> int:
        return len(self.sessions)

    def refresh_gauges(self) -> None:
        publishers = sum(1 for s in self.sessions.values() if s.role == "publisher")
        self.metrics.set("sessions", len(self.sessions))
        self.metrics.set("publishers", publishers)
        self.metrics.set("viewers", len(self.sessions) - publishers)
        self.metrics.set("relay_subscriptions", len(self.remote))
        self.metrics.set("sessions_connecting", self.connecting.connecting)
        for name in (
            "passthrough_tracks_total",
            "fallback_tracks_total",
            "frames_forwarded_total",
            "bytes_forwarded_total",
            "frames_refused_total",
        ):
            self.metrics.counters.setdefault(name, 0.0)

    async def start(self) -> None:
        reason = aiortc_hook.unavailable_reason()
        if self.settings.media_path == "relay":
            log.warning("media path: MediaRelay (decode + re-encode), as configured")
        elif reason:
            log.warning("media path: MediaRelay fallback: %s", reason)

    async def stop(self) -> None:
        for session_id in list(self.sessions):
            await self.end(session_id)
        for remote in list(self.remote.values()):
            await remote.close()
        self.continuity.close()

    # --- sessions ------------------------------------------------

    def _new_session(self, role: str, stream: str, client: str) -> Session:
        if len(self.sessions) >= self.settings.max_sessions:
            raise HttpProblem(503, f"node full: {self.settings.max_sessions} sessions")
        session_id = new_resource_id(self.settings.name)  # names its holder (routing.py)
        self.connecting.admit(session_id, client)
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        session = Session(session_id, role, stream, pc, time.time())

        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState == "connected":
                self.connecting.connected(session.id)
            elif pc.connectionState in ("failed", "closed"):
                await self.end(session.id)

        return session

    async def _negotiate(self, session: Session, offer: str) -> str:
        pc = session.pc
        await _apply_offer(pc, offer)
        return await self._answer(pc)

    async def _answer(self, pc: RTCPeerConnection) -> str:
        try:
            answer = await pc.createAnswer()
            await asyncio.wait_for(pc.setLocalDescription(answer), NEGOTIATION_TIMEOUT_S)
        except TimeoutError:
            raise HttpProblem(503, "answering the offer took too long; retry") from None
        except Exception as e:  # an offer aiortc took but cannot answer is still the client's
            log.info("offer not answerable by aiortc: %s: %s", type(e).__name__, str(e)[:200])
            raise HttpProblem(400, f"the offer cannot be answered: {sdp.one_line(e)}") from None
        sdp_text = str(pc.localDescription.sdp)
        if "a=candidate:" not in sdp_text:
            busy = ice.gather_failure()
            if busy is not None:
                raise HttpProblem(503, f"{busy}; retry later")
            # otherwise aiortc dropped the candidates: all m-lines refused, or the offer's
            # ICE failed before the answer (e.g. its candidates sit at session level)
            log.info("answer without ICE candidates (%s)", pc.connectionState)
            raise HttpProblem(400, "the offer cannot be connected: nothing of it could be answered")
        return sdp_text

    async def end(self, session_id: str) -> bool:
        self.connecting.forget(session_id)
        if session_id in self._closing:
            return False
        session = self.sessions.pop(session_id, None)
        if session is None:
            return False
        self._closing.add(session_id)
        try:
            if session.role == "publisher":
                local = self.local.pop(session.stream, None)
                if local is not None:
                    self.continuity.hold(session.stream, local.hand_over())
                    self.cluster.registry.release(session.stream)
                    self.cluster.announce()
                    await local.close()
                    log.info("stream %s ended", session.stream)
            await session.pc.close()
        except Exception as e:  # aiortc cannot close a pc a bad offer left half set up
            log.info("session %s closed with an error: %s: %s", session_id, type(e).__name__, e)
        finally:
            self._closing.discard(session_id)
        return True

    # --- WHIP ------------------------------------------------

    async def publish(self, stream: str, offer: str, client: str = "") -> tuple[str, str]:
        holder = self.cluster.holders().get(stream)
        if stream in self.local or holder is not None:
            self.metrics.inc("whip_conflicts_total")
            where = holder.node if holder is not None else self.settings.name
            raise HttpProblem(409, f"stream {stream!r} is already published (on {where})")
        session = self._new_session("publisher", stream, client)
        local = LocalStream(
            stream,
            self.settings.fleet,
            session.pc,
            self.metrics,
            force_fallback=self.settings.media_path == "relay",
            on_end=lambda: spawn(self.end(session.id)),
            holder=self.settings.name,
            seal=self.seal,
            adopt=self.continuity.adopter(stream),
        )
        self.local[stream] = local
        self.sessions[session.id] = session

        @session.pc.on("track")
        def on_track(track: Any) -> None:
            for transceiver in session.pc.getTransceivers():
                if transceiver.receiver.track is track:
                    local.attach(transceiver.receiver, track)

        try:
            answer = await self._negotiate(session, offer)
            mimes = local.negotiated(sdp.answer_codecs(answer))
            if "video" not in mimes:
                raise HttpProblem(400, "no video codec in common (supported: VP8, H264)")
            await local.start_relay(self.cluster.bus)
        except BaseException:
            await self.end(session.id)
            raise
        self.cluster.registry.claim(stream, mimes, time.time(), local.passthrough)
        self.cluster.announce()
        log.info(
            "stream %s published (%s, %s)",
            stream,
            ", ".join(mimes.values()),
            "passthrough" if local.passthrough else "MediaRelay",
        )
        return session.id, answer

    # --- WHEP ------------------------------------------------

    async def view(self, stream: str, offer: str, client: str = "") -> tuple[str, str]:
        tracks, source = await self._source(stream)
        offered = sdp.media_kinds(offer)
        if "video" in tracks and "video" not in offered:
            raise HttpProblem(400, "the offer has no video")
        sdp.check_receivable(offer, stream, tracks.get("video"))
        session = self._new_session("viewer", stream, client)
        self.sessions[session.id] = session
        try:
            for kind in (k for k in tracks if k in offered):
                self._add_viewer_track(session, source, kind, tracks[kind])
            await _apply_offer(session.pc, offer)
            answer = await self._answer(session.pc)
        except BaseException:
            await self.end(session.id)
            raise
        return session.id, answer

    def _add_viewer_track(
        self, session: Session, source: LocalStream | RemoteStream, kind: str, mime: str
    ) -> None:
        if isinstance(source, LocalStream):
            decoded = source.subscribe_fallback(kind)
            if decoded is not None:
                session.pc.addTransceiver(decoded, direction="sendonly")
                return
        fanout = (
            source.fanouts[kind]
            if isinstance(source, RemoteStream)
            else (source.tracks[kind].fanout)
        )
        if fanout is None:
            return
        forward = fanout.add_viewer()
        transceiver = session.pc.addTransceiver(forward, direction="sendonly")
        transceiver.setCodecPreferences(sdp.preferences_for(kind, mime))
        aiortc_hook.send_directly(transceiver.sender, forward.attach, forward.detach)

        def viewer_asks_keyframe() -> None:
            self.metrics.inc("viewer_keyframe_requests_total")
            fanout.request_keyframe()

        aiortc_hook.on_keyframe_request(transceiver.sender, viewer_asks_keyframe)

        @session.pc.on("connectionstatechange")
        def on_state() -> None:
            if session.pc.connectionState in ("failed", "closed"):
                forward.stop()

    async def _source(self, stream: str) -> tuple[dict[str, str], LocalStream | RemoteStream]:
        local = self.local.get(stream)
        if local is not None:
            mimes = {k: t.fanout.mime for k, t in local.tracks.items() if t.fanout is not None}
            if not mimes:
                raise HttpProblem(503, f"stream {stream!r} is still being set up; retry")
            return mimes, local
        holder = self.cluster.holders().get(stream)
        if holder is None:
            raise HttpProblem(404, f"unknown stream {stream!r}")
        remote = self.remote.get(stream)
        if remote is None or remote.holder != holder.node:
            bus = self.cluster.bus
            if bus is None or not bus.connected:
                raise HttpProblem(503, "not connected to NATS: cannot relay from other nodes")
            if remote is not None:
                await remote.close()
            remote = RemoteStream(
                stream,
                holder.node,
                self.settings.fleet,
                bus,
                self.metrics,
                dict(holder.tracks),
                self._remote_unused,
                self.seal,
                adopt=self.continuity.adopter(stream),
            )
            self.remote[stream] = remote
            await remote.open()
        return dict(remote.tracks), remote

    def _remote_unused(self, remote: RemoteStream) -> None:
        if self.remote.get(remote.stream) is remote:
            del self.remote[remote.stream]
        spawn(remote.close())

    # --- registry reactions ------------------------------------------------

    def registry_changed(self) -> None:
        for stream in self.cluster.registry.lost_claims(self.cluster.membership):
            log.warning("stream %s: an earlier publisher on another node wins; ending ours", stream)
            for session in list(self.sessions.values()):
                if session.role == "publisher" and session.stream == stream:
                    spawn(self.end(session.id))
        holders = self.cluster.holders()
        for stream, remote in list(self.remote.items()):
            holder = holders.get(stream)
            if holder is None or holder.node != remote.holder:
                self.continuity.hold(stream, remote.hand_over())
                self._remote_unused(remote)
        for stream in self.continuity.waiting():  # its publisher is back, on another node
            if stream in holders and stream not in self.local and stream not in self.remote:
                spawn(self._resume(stream))

    async def _resume(self, stream: str) -> None:
        with contextlib.suppress(HttpProblem):  # no NATS now: the hold may still expire
            await self._source(stream)

    def _end_viewers(self, stream: str) -> None:
        for session in list(self.sessions.values()):
            if session.role == "viewer" and session.stream == stream:
                spawn(self.end(session.id))


async def _apply_offer(pc: RTCPeerConnection, offer: str) -> None:
    """setRemoteDescription; what aiortc refuses in an offer that passed sdp.check_offer is
    still the client's offer: a 400 with aiortc's one-line reason, never a 500."""
    try:
        await asyncio.wait_for(
            pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer")),
            NEGOTIATION_TIMEOUT_S,
        )
    except TimeoutError:
        raise HttpProblem(503, "applying the offer took too long; retry") from None
    except Exception as e:
        log.info("offer refused by aiortc: %s: %s", type(e).__name__, str(e)[:200])
        raise HttpProblem(400, f"the offer cannot be applied: {sdp.one_line(e)}") from None
