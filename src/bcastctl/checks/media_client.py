"""WHIP publish and WHEP view through a Target, for the `media` check (aiortc, lazily).

The SDP exchange goes through `Target.request`, so it works wherever the target
can reach a node's signalling endpoint. ICE: on the lab every peer is on
loopback (host candidates only); on clusters, or with `relay`, the region's
`/api/pc-config` TURN servers are used, relay-only, as a browser behind NAT would.
The synthetic picture source is the node's own (`bcastctl.node.client`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any

from bcastctl.errors import OperationFailed
from bcastctl.targets.base import Endpoint, Target


@dataclass
class MediaSession:
    pc: Any  # aiortc.RTCPeerConnection
    endpoint: Endpoint
    resource: str
    started: float  # monotonic, when the offer was posted
    frame_times: list[float] = field(default_factory=list)
    reader: asyncio.Task[None] | None = None
    first_frame: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def first_frame_ms(self) -> float | None:
        if not self.frame_times:
            return None
        return round((self.frame_times[0] - self.started) * 1000, 1)


def rtc_configuration(target: Target, pc_config: Any, relay: bool = False) -> Any:
    """Loopback host candidates on the lab; else (or with `relay`) TURN relay only."""
    from aiortc import RTCConfiguration, RTCIceServer, RTCIceTransportPolicy

    if target.kind == "lab" and not relay:
        from bcastctl.adapters import ice

        ice.offer_only("127.0.0.1")  # the lab's nodes are on 127.x: loopback host candidates
        return RTCConfiguration(iceServers=[])
    servers = [
        RTCIceServer(urls=s.get("urls"), username=s.get("username"), credential=s.get("credential"))
        for s in (pc_config or {}).get("iceServers", [])
    ]
    return RTCConfiguration(iceServers=servers, iceTransportPolicy=RTCIceTransportPolicy.RELAY)


async def _exchange(
    target: Target,
    endpoint: Endpoint,
    path: str,
    pc: Any,
    headers: dict[str, str],
    timeout_s: float,
) -> str:
    from aiortc import RTCSessionDescription

    await pc.setLocalDescription(await pc.createOffer())
    response = await target.request(
        "POST",
        endpoint,
        path,
        body=pc.localDescription.sdp.encode(),
        headers={"Content-Type": "application/sdp", **headers},
        timeout_s=timeout_s,
    )
    if response.status != 201:
        reason = response.body.decode(errors="replace").strip().splitlines()[:1]
        raise OperationFailed(f"{response.url}: HTTP {response.status} {' '.join(reason)}")
    await pc.setRemoteDescription(RTCSessionDescription(sdp=response.body.decode(), type="answer"))
    return response.headers.get("Location", "")


async def publish(
    target: Target, endpoint: Endpoint, stream: str, token: str, config: Any, timeout_s: float
) -> MediaSession:
    from aiortc import RTCPeerConnection

    from bcastctl.node.client import SyntheticVideo

    pc = RTCPeerConnection(config)
    pc.addTransceiver(SyntheticVideo(width=320, height=180, fps=30), direction="sendonly")
    started = time.monotonic()
    try:
        resource = await _exchange(
            target, endpoint, "/api/whip?stream=" + stream, pc,
            {"Authorization": f"Bearer {token}"}, timeout_s,
        )  # fmt: skip
    except BaseException:
        await pc.close()
        raise
    return MediaSession(pc, endpoint, resource, started)


async def view(
    target: Target, endpoint: Endpoint, stream: str, config: Any, timeout_s: float
) -> MediaSession:
    """A WHEP viewer whose decoded frames' arrival times land in `frame_times`."""
    from aiortc import RTCPeerConnection
    from aiortc.mediastreams import MediaStreamError

    pc = RTCPeerConnection(config)
    pc.addTransceiver("video", direction="recvonly")
    tracks: asyncio.Queue[Any] = asyncio.Queue()
    pc.on("track", lambda track: tracks.put_nowait(track) if track.kind == "video" else None)
    started = time.monotonic()
    try:
        resource = await _exchange(
            target, endpoint, "/api/whep?stream=" + stream, pc, {}, timeout_s
        )
    except BaseException:
        await pc.close()
        raise
    session = MediaSession(pc, endpoint, resource, started)

    async def read() -> None:
        track = await tracks.get()
        while True:
            try:
                await track.recv()
            except MediaStreamError:
                return
            session.frame_times.append(time.monotonic())
            session.first_frame.set()

    session.reader = asyncio.create_task(read())
    return session


async def close(target: Target, session: MediaSession, token: str | None = None) -> None:
    """End the session on the node (DELETE its resource) and locally; never raises."""
    if session.reader is not None:
        session.reader.cancel()
    if session.resource:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        # the node may be gone: the local close below must happen anyway
        with contextlib.suppress(Exception):
            await target.request(
                "DELETE", session.endpoint, session.resource, headers=headers, timeout_s=2.0
            )
    await session.pc.close()
