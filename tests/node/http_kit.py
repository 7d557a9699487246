"""Client-side helpers for the node's HTTP edge: offers from aiortc, posts, raw requests.

Raw requests go over a plain socket so that a test can send what aiohttp's client
refuses to (bytes that are not UTF-8 in a header, a body that stalls half-way).
"""

from __future__ import annotations

import asyncio
import re
from urllib.parse import urlsplit

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection
from node_testkit import WHIP_TOKEN


async def offer(*kinds: str, direction: str = "sendonly") -> str:
    """A real aiortc offer with these m-lines (ICE gathered: host candidates included)."""
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        for kind in kinds:
            pc.addTransceiver(kind, direction=direction)
        await pc.setLocalDescription(await pc.createOffer())
        return str(pc.localDescription.sdp)
    finally:
        await pc.close()


async def never_connecting_offer() -> str:
    """A real viewer offer with its candidates taken out: it can never connect."""
    sdp = await offer("video", "audio", direction="recvonly")
    return re.sub(r"a=(candidate:[^\r]*|end-of-candidates)\r\n", "", sdp)


async def post(
    http: aiohttp.ClientSession,
    url: str,
    body: bytes | str,
    token: str | None = WHIP_TOKEN,
    content_type: str = "application/sdp",
) -> tuple[int, str]:
    """(status, the JSON error reason or the body text)."""
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with http.post(url, data=body, headers=headers) as response:
        if response.content_type == "application/json":
            return response.status, str((await response.json())["error"])
        return response.status, await response.text()


async def raw_request(base_url: str, request: bytes, wait_s: float = 15.0) -> tuple[int, bytes]:
    """Send `request` as is on a new connection; (status, whole response) once it closes
    or `wait_s` passes (status 0: no response)."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        try:
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), wait_s)
        except (TimeoutError, asyncio.IncompleteReadError):
            return 0, b""
        length = next(
            (
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            ),
            0,
        )
        body = await asyncio.wait_for(reader.readexactly(length), wait_s)
        return int(head.split(b" ", 2)[1]), head + body
    finally:
        writer.close()
