"""TURN REST ephemeral credentials (the scheme coturn's `use-auth-secret` and STUNner accept).

username = "<expiry unix time>:<user>", password = base64(HMAC-SHA1(secret, username)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

from bcastctl.node.settings import NodeSettings
from bcastctl.protocol import IceServer, PcConfig


def credentials(secret: str, user: str, ttl_s: int, now: float | None = None) -> tuple[str, str]:
    expiry = int((time.time() if now is None else now) + ttl_s)
    username = f"{expiry}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()


def pc_config(settings: NodeSettings) -> PcConfig:
    """The RTCConfiguration a client should use with this region."""
    servers: list[IceServer] = []
    turn = [url for url in settings.turn_urls if url.startswith(("turn:", "turns:"))]
    stun = [url for url in settings.turn_urls if url.startswith("stun:")]
    if stun:
        servers.append(IceServer(urls=stun))
    if turn:
        username, password = credentials(
            settings.turn_secret, settings.turn_user, settings.turn_ttl_s
        )
        servers.append(IceServer(urls=turn, username=username, credential=password))
    return PcConfig(iceServers=servers, iceTransportPolicy=settings.ice_policy)
