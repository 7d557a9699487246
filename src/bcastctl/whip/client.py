"""WHIP publish and WHEP view sessions on aiortc, over any `Signalling`.

ICE: `rtc_configuration` gives loopback host candidates (the lab, tests: every peer
on 127.x) or, with TURN servers from a node's `/api/pc-config`, relay only, as a
browser behind NAT would. aiortc is imported when a session starts, not with the module.
A refused exchange raises `WhipError` (status + reason) here and nowhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bcastctl.errors import BcastError
from bcastctl.whip.signalling import Signalling, WhipError

FrameRecorder = Callable[[Any], None]
"""Records one frame's arrival (the frame, or None when it is not decoded)."""

ReceiverHook = Callable[[Any, FrameRecorder], None]
"""Called with the video RTCRtpReceiver and the recorder, before the first frame is read."""


@dataclass
class ClientSession:
    """One WHIP or WHEP session: its peer connection and its resource on the node."""

    pc: Any  # aiortc.RTCPeerConnection
    signalling: Signalling
    resource: str  # /api/resource/<id>, from the answer's Location
    started: float  # time.monotonic() when the offer was posted
    frames: list[tuple[float, Any]] = field(default_factory=list)  # (monotonic, frame | None)
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)
    reader: asyncio.Task[None] | None = None

    @property
    def frame_times(self) -> list[float]:
        return [at for at, _ in self.frames]

    @property
    def first_frame_ms(self) -> float | None:
        """From the offer to the first frame, in ms (None before it)."""
        if not self.frames:
            return None
        return round((self.frames[0][0] - self.started) * 1000, 1)

    async def close(self, token: str | None = None, timeout_s: float = 2.0) -> int | None:
        """DELETE the resource (the status, None if the node did not answer); close locally."""
        if self.reader is not None:
            self.reader.cancel()
        status = None
        try:
            if self.resource:
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                answer = await self.signalling.request(
                    "DELETE", self.resource, headers=headers, timeout_s=timeout_s
                )
                status = answer.status
        except BcastError:
            pass  # the node may be gone: the local close must happen anyway
        finally:
            await self.pc.close()
        return status


def rtc_configuration(pc_config: Mapping[str, Any] | None = None, *, loopback: bool) -> Any:
    """Loopback host candidates only (`loopback`), else the pc-config's TURN servers, relay only."""
    from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

    if loopback:
        from bcastctl.adapters import ice

        ice.offer_only("127.0.0.1")
        return RTCConfiguration(iceServers=[])
    servers = [
        RTCIceServer(urls=s.get("urls"), username=s.get("username"), credential=s.get("credential"))
        for s in (pc_config or {}).get("iceServers", [])
    ]
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)


MAX_REDIRECTS = 3


async def _exchange(
    signalling: Signalling, path: str, pc: Any, headers: Mapping[str, str], timeout_s: float
) -> tuple[Signalling, str]:
    """Post the offer (following 307/308 redirects to another region's endpoint), apply the
    answer; (the endpoint that answered, the resource path), or WhipError on any status
    but 201."""
    from urllib.parse import urlsplit

    from aiortc import RTCSessionDescription

    await pc.setLocalDescription(await pc.createOffer())
    for _ in range(MAX_REDIRECTS + 1):
        answer = await signalling.request(
            "POST",
            path,
            body=pc.localDescription.sdp.encode(),
            headers={"Content-Type": "application/sdp", **headers},
            timeout_s=timeout_s,
        )
        location = answer.headers.get("Location", "")
        if answer.status not in (307, 308):
            break
        elsewhere = signalling.follow(location)
        if elsewhere is None:
            raise WhipError(answer.url, answer.status, f"redirect not followed: {location[:120]}")
        parts = urlsplit(location)
        signalling, path = elsewhere, parts.path + (f"?{parts.query}" if parts.query else "")
    if answer.status != 201:
        raise WhipError.from_answer(answer)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.body.decode(), type="answer"))
    return signalling, location


def _peer(config: Any) -> Any:
    from aiortc import RTCConfiguration, RTCPeerConnection

    return RTCPeerConnection(config if config is not None else RTCConfiguration(iceServers=[]))


async def publish(
    signalling: Signalling,
    stream: str,
    token: str,
    track: Any,
    *,
    config: Any = None,
    codec: str | None = None,
    timeout_s: float = 10.0,
) -> ClientSession:
    """WHIP-publish `track` (a MediaStreamTrack); `codec` (e.g. "video/H264") offers only it."""
    from aiortc import RTCRtpSender

    pc = _peer(config)
    transceiver = pc.addTransceiver(track, direction="sendonly")
    if codec is not None:
        wanted = (codec.lower(), f"{track.kind}/rtx")
        transceiver.setCodecPreferences(
            [
                c
                for c in RTCRtpSender.getCapabilities(track.kind).codecs
                if c.mimeType.lower() in wanted
            ]
        )
    started = time.monotonic()
    try:
        auth = {"Authorization": f"Bearer {token}"}
        signalling, resource = await _exchange(
            signalling, f"/api/whip?stream={stream}", pc, auth, timeout_s
        )
    except BaseException:
        await pc.close()
        raise
    return ClientSession(pc, signalling, resource, started)


async def view(
    signalling: Signalling,
    stream: str,
    *,
    config: Any = None,
    keep_frames: bool = False,
    on_frame: Callable[[float, Any], None] | None = None,
    on_receiver: ReceiverHook | None = None,
    decode: bool = True,
    timeout_s: float = 10.0,
) -> ClientSession:
    """A WHEP viewer; each frame's arrival lands in `session.frames` (the frame if `keep_frames`).

    `decode=False` reads no track: frames are recorded only by an `on_receiver` hook that
    taps the receiver (a cheap viewer for load tests). `on_receiver` may also change how
    the receiver releases frames before decoding starts.
    """
    pc = _peer(config)
    pc.addTransceiver("video", direction="recvonly")
    session = ClientSession(pc, signalling, "", time.monotonic())
    track_ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

    def record(frame: Any) -> None:
        now = time.monotonic()
        if on_frame is not None:
            on_frame(now, frame)
        session.frames.append((now, frame if keep_frames else None))
        session.first_frame.set()

    @pc.on("track")  # type: ignore[untyped-decorator]
    def on_track(track: Any) -> None:
        if track.kind != "video" or track_ready.done():
            return
        track_ready.set_result(track)
        if on_receiver is not None:
            on_receiver(
                next(t.receiver for t in pc.getTransceivers() if t.receiver.track is track), record
            )

    try:
        session.signalling, session.resource = await _exchange(
            signalling, f"/api/whep?stream={stream}", pc, {}, timeout_s
        )
    except BaseException:
        await pc.close()
        raise
    if decode:
        session.reader = asyncio.create_task(_read_decoded(track_ready, record))
    return session


async def _read_decoded(track_ready: asyncio.Future[Any], record: FrameRecorder) -> None:
    from aiortc.mediastreams import MediaStreamError

    track = await track_ready
    with contextlib.suppress(MediaStreamError):
        while True:
            record(await track.recv())
