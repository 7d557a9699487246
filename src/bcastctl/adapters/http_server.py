"""Serve an aiohttp app with the bounds aiohttp leaves open: header time and connection count.

What aiohttp 3.14 bounds by itself (aiohttp/web_protocol.py, RequestHandler): the size of a
request line and of a header field (`max_line_size`, `max_field_size`: 8190 bytes), the
number of header fields (`max_headers`: 128), the body (`client_max_size` on the app), an
unread body after the handler returned (`lingering_time`: 10 s, then the connection
closes), and idle connections (`keepalive_timeout`, default 3630 s, armed when a connection
opens and after each response: it closes a connection still waiting for a request's headers
when it fires; bytes arriving do not extend it). So a client that sends its headers one
byte every few seconds holds a connection for up to an hour, and nothing caps how many
connections a server holds. The keep-alive timeout cannot serve as a header deadline: a
Google Cloud Application Load Balancer keeps idle connections to its backends for 600 s and
asks backends to keep theirs longer ("backend HTTP keepalive timeout ... fixed at 10 minutes
... configure your backend software so that its HTTP keepalive timeout is greater than
600 seconds", cloud.google.com/load-balancing/docs/https), or it meets resets.

Here, each connection's protocol (aiohttp's RequestHandler) is wrapped:
- a request's headers must arrive within `header_deadline_s` of the connection opening,
  or of the first byte of a later request; the connection is then answered 408 and closed
  (counted in `header_timeouts`). An idle keep-alive connection is not timed here;
- at most `max_connections` connections are open at once. At the cap a newcomer takes the
  place of a connection without a request in progress (`ConnectionGuard._victim`: the
  longest idle keep-alive one; else a slow sender of headers from an address that holds
  more connections than the newcomer's; else one that has sent headers for a second
  already, from an address holding as many), closed with a 408 if it was sending headers
  (counted in `evicted`); so one client's slowloris cannot lock others out. With none to
  close, the newcomer is answered 503 (Retry-After) and closed, unseen by aiohttp
  (`refused`); while as many refused ones are still reading their 503 (REFUSED_LINGER_S),
  more are closed unanswered. Refusals, evictions and header timeouts are logged as one
  summary line every LOG_EVERY_S;
- the body: handlers read it with `read_body`, within `body_deadline_s` (408 after), and
  aiohttp's `lingering_time` (draining a body left unread, or the rest of one cut at its
  deadline, so that the client gets the answer before the close) is `body_deadline_s`:
  a request holds its connection for at most twice the body deadline past its headers.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from aiohttp import web
from aiohttp.typedefs import Handler

log = logging.getLogger("bcastctl.http")
REFUSED_LINGER_S = 1.0  # a refused client gets this long to read its 503 before the close
EVICTABLE_AFTER_S = 1.0  # at the cap, a connection this long without its headers may go
LOG_EVERY_S = 10.0  # under attack: one summary line this often, not one per connection


@dataclass(frozen=True)
class ConnectionBounds:
    header_deadline_s: float = 10.0
    body_deadline_s: float = 5.0
    max_connections: int = 500


class BodyTimeout(Exception):
    """The body did not arrive within the deadline (the caller answers 408)."""


async def read_body(request: web.Request, deadline_s: float) -> bytes:
    """The whole body within `deadline_s` (client_max_size bounds its size)."""
    try:
        return await asyncio.wait_for(request.read(), deadline_s)
    except TimeoutError:
        raise BodyTimeout(f"request body not received within {deadline_s:g} s") from None


def _response(status: int, reason: str, message: str, extra: str = "") -> bytes:
    body = json.dumps({"error": message}).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    )
    return head.encode() + body


class ConnectionGuard:
    """The bounds of one server; `open`, `refused`, `header_timeouts`, `evicted` for metrics."""

    def __init__(self, bounds: ConnectionBounds, what: str) -> None:
        self.bounds = bounds
        self.what = what
        self.refused = 0
        self.header_timeouts = 0
        self.evicted = 0
        self._open: dict[asyncio.BaseTransport, _Guarded] = {}
        self._by_address: Counter[str] = Counter()
        self.lingering = 0  # refused connections reading their 503 (at most max_connections)
        self._logged_at = -LOG_EVERY_S

    @property
    def open(self) -> int:
        return len(self._open)

    def factory(self, make: Callable[[], asyncio.Protocol]) -> Callable[[], asyncio.Protocol]:
        return lambda: _Guarded(self, make)

    @web.middleware
    async def middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        """A request's headers are in: its connection's header clock stops."""
        guarded = self._open.get(request.transport) if request.transport else None
        if guarded is None:
            return await handler(request)
        guarded.busy(True)
        try:
            return await handler(request)
        finally:
            guarded.busy(False)

    def admit(self, guarded: _Guarded, transport: asyncio.BaseTransport) -> bool:
        """Room for one more: below the cap, or by closing a connection without a request in
        progress (see `_victim`). A request being handled is never cut."""
        if len(self._open) >= self.bounds.max_connections:
            victim = self._victim(guarded.address)
            if victim is None:
                self.refused += 1
                self.note()
                return False
            self.evicted += 1
            victim.close_waiting("to make room")
            self.note()
        self._open[transport] = guarded
        self._by_address[guarded.address] += 1
        return True

    def _victim(self, address: str) -> _Guarded | None:
        """Whom a newcomer from `address` replaces at the cap: the longest idle keep-alive
        connection; else one still sending its headers from an address holding more
        connections than the newcomer's would (the slowest of the heaviest: one client's
        slowloris cannot keep others out, nor win slots back by reconnecting); else one
        that has sent headers for EVICTABLE_AFTER_S already (a quick client's arrive
        within a round trip) from an address holding as many (many clients with one
        connection each). None: the newcomer is refused."""
        waiting = [c for c in self._open.values() if not c.handling]
        idle = [c for c in waiting if not c.receiving]
        if idle:
            return min(idle, key=lambda c: c.waiting_since)
        mine, held = self._by_address[address] + 1, self._by_address
        heavier = [c for c in waiting if held[c.address] > mine]
        if heavier:
            return max(heavier, key=lambda c: (held[c.address], -c.waiting_since))
        old = asyncio.get_running_loop().time() - EVICTABLE_AFTER_S
        slow = [c for c in waiting if c.waiting_since <= old and held[c.address] >= mine]
        return min(slow, key=lambda c: c.waiting_since) if slow else None

    def note(self) -> None:
        """A connection refused, evicted or past its header deadline: a summary line at
        most every LOG_EVERY_S (an attack must not become a flood of log lines)."""
        now = asyncio.get_running_loop().time()
        if now - self._logged_at >= LOG_EVERY_S:
            self._logged_at = now
            log.info(
                "%s: %d connections open; so far %d refused at the cap, %d closed to make "
                "room, %d closed at the header deadline",
                self.what,
                self.open,
                self.refused,
                self.evicted,
                self.header_timeouts,
            )

    def release(self, transport: asyncio.BaseTransport) -> None:
        guarded = self._open.pop(transport, None)
        if guarded is not None:
            self._by_address[guarded.address] -= 1
            if self._by_address[guarded.address] <= 0:
                del self._by_address[guarded.address]


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol inside, the header clock and the count outside."""

    def __init__(self, guard: ConnectionGuard, make: Callable[[], asyncio.Protocol]) -> None:
        self._guard = guard
        self._make = make
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self.handling = False
        self.waiting_since = 0.0  # loop time since when no request has been in progress
        self.address = ""  # the peer's IP address

    @property
    def receiving(self) -> bool:
        """A request's headers are arriving (its clock runs); else idle or handling."""
        return self._timer is not None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport = cast(asyncio.Transport, transport)  # uvloop's are not its subclasses
        self._transport = transport
        self.waiting_since = asyncio.get_running_loop().time()
        peer = transport.get_extra_info("peername")
        self.address = str(peer[0]) if peer else ""
        if not self._guard.admit(self, transport):
            self._refuse(transport)
            return
        self._inner = self._make()
        self._inner.connection_made(transport)
        self._start_clock()

    def _refuse(self, transport: asyncio.Transport) -> None:
        guard = self._guard
        if guard.lingering >= guard.bounds.max_connections:
            transport.abort()  # a flood: no answer, no lingering
            return
        limit = guard.bounds.max_connections
        transport.write(
            _response(
                503,
                "Service Unavailable",
                f"this server holds its limit of {limit} connections; retry in a moment",
                "Retry-After: 1\r\n",
            )
        )
        if transport.can_write_eof():
            transport.write_eof()  # the client reads the 503, then sees the end
        guard.lingering += 1
        asyncio.get_running_loop().call_later(REFUSED_LINGER_S, self._end_refused, transport)

    def _end_refused(self, transport: asyncio.Transport) -> None:
        self._guard.lingering -= 1
        transport.abort()

    def busy(self, handling: bool) -> None:
        self.handling = handling
        if handling:
            self._stop_clock()
        else:
            self.waiting_since = asyncio.get_running_loop().time()

    def _start_clock(self) -> None:
        if self._timer is None:
            loop = asyncio.get_running_loop()
            self._timer = loop.call_later(self._guard.bounds.header_deadline_s, self._expired)

    def _stop_clock(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expired(self) -> None:
        if self.handling:
            self._timer = None
            return
        self._guard.header_timeouts += 1
        self.close_waiting(f"not received within {self._guard.bounds.header_deadline_s:g} s")
        self._guard.note()

    def close_waiting(self, why: str) -> None:
        """Close a connection with no request in progress; one still sending its request's
        headers is told so (408)."""
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        self._guard.release(transport)
        if self._timer is not None:  # headers have started to arrive
            transport.write(_response(408, "Request Timeout", f"request headers {why}"))
        self._stop_clock()
        transport.close()

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return  # refused: what it sends is dropped
        if not self.handling:
            self._start_clock()  # the first byte of a request starts its header clock
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_clock()
        if self._transport is not None:
            self._guard.release(self._transport)
        if self._inner is not None:
            self._inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


@dataclass
class BoundedServer:
    runner: web.AppRunner
    listener: asyncio.Server
    guard: ConnectionGuard
    port: int

    async def close(self) -> None:
        self.listener.close()
        await self.runner.cleanup()


async def serve_bounded(
    app: web.Application,
    host: str,
    port: int,
    bounds: ConnectionBounds,
    what: str,
    handler_cancellation: bool = False,
) -> BoundedServer:
    """Listen on host:port (0: any port) with `bounds`; OSError if it cannot listen."""
    guard = ConnectionGuard(bounds, what)
    app.middlewares.insert(0, guard.middleware)
    runner = web.AppRunner(
        app,
        access_log=None,
        handle_signals=False,
        handler_cancellation=handler_cancellation,
        lingering_time=bounds.body_deadline_s,
    )
    await runner.setup()
    assert runner.server is not None
    loop = asyncio.get_running_loop()
    try:
        listener = await loop.create_server(
            guard.factory(runner.server), host, port, reuse_address=True
        )
    except OSError:
        await runner.cleanup()
        raise
    bound = listener.sockets[0].getsockname()[1] if listener.sockets else port
    return BoundedServer(runner, listener, guard, int(bound))
