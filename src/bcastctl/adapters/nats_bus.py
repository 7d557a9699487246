"""The node's NATS connection: connect with retry, publish, subscribe, request/reply.

The only module the node uses to reach NATS (nats-py stays behind this wrapper).
Every wait has a deadline; SDK errors become BcastErrors or plain results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from bcastctl.errors import UnreachableError

log = logging.getLogger("bcastctl.node.nats")


@dataclass(frozen=True)
class BusMessage:
    subject: str
    data: bytes
    reply: str


Handler = Callable[[BusMessage], Awaitable[None]]


def redact(url: str) -> str:
    """A NATS URL without user:password (URLs may carry credentials; logs must not)."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url


class Subscription:
    """A live subscription; `unsubscribe()` ends it (idempotent)."""

    def __init__(self, sdk_subscription: Any) -> None:
        self._sdk = sdk_subscription
        self._done = False

    async def unsubscribe(self) -> None:
        if self._done:
            return
        self._done = True
        try:
            await self._sdk.unsubscribe()
        except Exception as e:  # connection already closed: nothing left to undo
            log.debug("unsubscribe: %s", e)


class NatsBus:
    """One nats-py client with reconnects forever (a node outlives NATS restarts)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    @classmethod
    async def connect(
        cls, urls: list[str], name: str, user: str = "", password: str = "", timeout_s: float = 5.0
    ) -> NatsBus:
        """Connect as `user` (none: anonymous, which an authenticated server refuses)."""
        import nats

        async def on_error(e: Exception) -> None:
            log.warning("nats: %s", e)

        async def on_disconnected() -> None:
            log.warning("nats: disconnected")

        async def on_reconnected() -> None:
            log.warning("nats: reconnected")

        try:
            client = await asyncio.wait_for(
                nats.connect(
                    servers=urls,
                    name=name,
                    user=user or None,
                    password=password or None,
                    connect_timeout=max(1, int(timeout_s)),
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    ping_interval=5,
                    max_outstanding_pings=2,
                    error_cb=on_error,
                    disconnected_cb=on_disconnected,
                    reconnected_cb=on_reconnected,
                ),
                timeout=timeout_s,
            )
        except (TimeoutError, OSError, nats.errors.Error) as e:
            reason = str(e) or type(e).__name__
            shown = ", ".join(redact(url) for url in urls)
            raise UnreachableError(
                f"NATS at {shown} not reachable within {timeout_s:g} s: {reason}"
            ) from e
        return cls(client)

    @property
    def connected(self) -> bool:
        return bool(self._client.is_connected)

    async def publish(self, subject: str, data: bytes) -> None:
        """Fire and forget; while disconnected nats-py buffers (bounded) and we drop on error."""
        try:
            await self._client.publish(subject, data)
        except Exception as e:
            log.debug("publish %s dropped: %s", subject, e)

    async def subscribe(self, subject: str, handler: Handler) -> Subscription:
        async def on_message(msg: Any) -> None:
            try:
                await handler(BusMessage(msg.subject, msg.data, msg.reply or ""))
            except Exception:  # one bad message must not end the subscription
                log.exception("handler for %s failed", subject)

        sdk_subscription = await self._client.subscribe(subject, cb=on_message)
        return Subscription(sdk_subscription)

    async def request(self, subject: str, data: bytes, timeout_s: float) -> bytes | None:
        """The reply's data, or None when nobody answered within timeout_s."""
        import nats

        try:
            reply = await self._client.request(subject, data, timeout=timeout_s)
        except (nats.errors.TimeoutError, nats.errors.NoRespondersError):
            return None
        except nats.errors.Error as e:
            log.debug("request %s failed: %s", subject, e)
            return None
        return bytes(reply.data)

    async def flush(self, timeout_s: float = 2.0) -> None:
        try:
            await self._client.flush(timeout=max(1, int(timeout_s)))
        except Exception as e:
            log.debug("flush: %s", e)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.drain(), timeout=2.0)
        if not self._client.is_closed:
            try:
                await asyncio.wait_for(self._client.close(), timeout=2.0)
            except Exception as e:
                log.debug("close: %s", e)
