"""The node's NATS connection: connect, stay connected, publish, subscribe, request/reply.

The only module the node uses to reach NATS (nats-py stays behind this wrapper).
Every wait has a deadline; SDK errors become BcastErrors or plain results.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
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
    """A live subscription, kept across reconnects; `unsubscribe()` ends it (idempotent)."""

    def __init__(self, bus: NatsBus, subject: str, handler: Handler) -> None:
        self.bus = bus
        self.subject = subject
        self.handler = handler
        self.sdk: Any = None  # nats-py's subscription on the current client
        self._done = False

    async def unsubscribe(self) -> None:
        if self._done:
            return
        self._done = True
        self.bus._subscriptions.discard(self)
        if self.sdk is None:
            return
        try:
            await self.sdk.unsubscribe()
        except Exception as e:  # connection already closed: nothing left to undo
            log.debug("unsubscribe: %s", e)


@dataclass(frozen=True)
class Dial:
    """How to reach the region's NATS (the password stays out of repr and logs)."""

    urls: tuple[str, ...]
    name: str
    user: str
    password: str = field(repr=False)
    timeout_s: float


BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 10.0


class NatsBus:
    """One NATS connection that stays up: nats-py reconnects after a dropped connection,
    and when nats-py gives up on a client (after a server -ERR such as "maximum control
    line exceeded" it closes it for good) a new client is dialled with backoff, forever,
    and every live subscription is made again on it. While it is down, publishes drop."""

    def __init__(self, dial: Dial) -> None:
        self._dial = dial
        self._client: Any = None
        self._subscriptions: set[Subscription] = set()
        self._closing = False
        self._revival: asyncio.Task[None] | None = None
        self.reconnects = 0  # new clients dialled after nats-py closed one
        self.down_since: float | None = None  # time.monotonic() when the connection went

    @classmethod
    async def connect(
        cls, urls: list[str], name: str, user: str = "", password: str = "", timeout_s: float = 5.0
    ) -> NatsBus:
        """Connect as `user` (none: anonymous, which an authenticated server refuses)."""
        bus = cls(Dial(tuple(urls), name, user, password, timeout_s))
        bus._client = await bus._new_client()
        return bus

    async def _new_client(self) -> Any:
        import nats

        dial = self._dial
        errors: list[str] = []  # what the server said while we waited (e.g. a refused login)

        async def on_error(e: Exception) -> None:
            errors.append(str(e))
            log.warning("nats: %s", e)

        async def on_disconnected() -> None:
            self._went_down()
            log.warning("nats: disconnected")

        async def on_reconnected() -> None:
            self.down_since = None
            log.warning("nats: reconnected")

        try:
            return await asyncio.wait_for(
                nats.connect(
                    servers=list(dial.urls),
                    name=dial.name,
                    user=dial.user or None,
                    password=dial.password or None,
                    connect_timeout=max(1, int(dial.timeout_s)),
                    allow_reconnect=True,
                    max_reconnect_attempts=-1,
                    reconnect_time_wait=0.5,
                    ping_interval=5,
                    max_outstanding_pings=2,
                    error_cb=on_error,
                    disconnected_cb=on_disconnected,
                    reconnected_cb=on_reconnected,
                    closed_cb=self._on_closed,
                ),
                timeout=dial.timeout_s,
            )
        except (TimeoutError, OSError, nats.errors.Error) as e:
            reason = str(e) or (errors[-1] if errors else type(e).__name__)
            shown = ", ".join(redact(url) for url in dial.urls)
            raise UnreachableError(
                f"NATS at {shown} not reachable within {dial.timeout_s:g} s: {reason}"
            ) from e

    def _went_down(self) -> None:
        if self.down_since is None:
            self.down_since = time.monotonic()

    async def _on_closed(self) -> None:
        if self._closing or (self._revival is not None and not self._revival.done()):
            return
        self._went_down()
        log.warning("nats: the client was closed; dialling again")
        self._revival = asyncio.get_running_loop().create_task(self._revive())

    async def _revive(self) -> None:
        delay = BACKOFF_FIRST_S
        while not self._closing:
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            try:
                client = await self._new_client()
            except UnreachableError as e:
                log.warning("%s; retrying in %.1f s", e, min(delay * 2, BACKOFF_MAX_S))
                delay = min(delay * 2, BACKOFF_MAX_S)
                continue
            self._client = client
            for subscription in list(self._subscriptions):
                await self._attach(subscription)
            self.reconnects += 1
            down_for = time.monotonic() - (self.down_since or time.monotonic())
            self.down_since = None
            log.warning("nats: connected again after %.1f s", down_for)
            return

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
        subscription = Subscription(self, subject, handler)
        self._subscriptions.add(subscription)
        await self._attach(subscription)
        return subscription

    async def _attach(self, subscription: Subscription) -> None:
        """Subscribe on the current client (again, after a new client was dialled)."""

        async def on_message(msg: Any) -> None:
            try:
                await subscription.handler(BusMessage(msg.subject, msg.data, msg.reply or ""))
            except Exception:  # one bad message must not end the subscription
                log.exception("handler for %s failed", subscription.subject)

        try:
            subscription.sdk = await self._client.subscribe(subscription.subject, cb=on_message)
        except Exception as e:  # closed meanwhile: the next revival subscribes again
            log.debug("subscribe %s: %s", subscription.subject, e)

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
        self._closing = True
        if self._revival is not None:
            self._revival.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._revival
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._client.drain(), timeout=2.0)
        if not self._client.is_closed:
            try:
                await asyncio.wait_for(self._client.close(), timeout=2.0)
            except Exception as e:
                log.debug("close: %s", e)
