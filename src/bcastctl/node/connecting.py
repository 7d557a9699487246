"""Sessions still connecting: a deadline to connect, and caps on how many may be connecting.

An offer costs the node a peer connection, UDP sockets and, for a viewer of a stream held
on another node, a NATS relay across the WAN, before the client has proved anything. So:
- a session that does not reach `connected` (aiortc's RTCPeerConnection.connectionState:
  ICE connected and the DTLS handshake done) within `connect_deadline_s` is closed and
  counted (`sessions_connect_timeouts_total`); its relay ends with it;
- at most `max_connecting` sessions may be connecting at once (503 beyond, saying so), and
  at most a quarter of them from one client address, so that one client's flood of offers
  that never connect cannot lock out everyone else.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from bcastctl.node.http_errors import HttpProblem
from bcastctl.node.metrics import Metrics

log = logging.getLogger("bcastctl.node.connecting")
CLIENT_SHARE = 4  # one client address may hold 1/CLIENT_SHARE of the connecting slots


@dataclass
class _Pending:
    client: str
    timer: asyncio.TimerHandle


class ConnectGate:
    """Admits sessions while they connect; `on_expired(session_id)` closes one that did not."""

    def __init__(
        self,
        deadline_s: float,
        max_connecting: int,
        metrics: Metrics,
        on_expired: Callable[[str], None],
    ) -> None:
        self.deadline_s = deadline_s
        self.max_connecting = max_connecting
        self.per_client = max(1, max_connecting // CLIENT_SHARE)
        self._metrics = metrics
        self._on_expired = on_expired
        self._pending: dict[str, _Pending] = {}
        self._by_client: Counter[str] = Counter()

    @property
    def connecting(self) -> int:
        return len(self._pending)

    def admit(self, session_id: str, client: str) -> None:
        """Start the session's clock, or 503 when too many sessions are connecting."""
        if len(self._pending) >= self.max_connecting:
            self._metrics.inc("sessions_refused_connecting_total")
            raise HttpProblem(
                503,
                f"too many sessions still connecting ({self.max_connecting}); retry in a moment",
            )
        if self._by_client[client] >= self.per_client:
            self._metrics.inc("sessions_refused_connecting_total")
            raise HttpProblem(
                503,
                f"too many sessions from {client or 'this client'} still connecting "
                f"({self.per_client}); retry in a moment",
            )
        timer = asyncio.get_running_loop().call_later(self.deadline_s, self._expire, session_id)
        self._pending[session_id] = _Pending(client, timer)
        self._by_client[client] += 1

    def connected(self, session_id: str) -> None:
        if self._release(session_id):
            self._metrics.inc("sessions_connected_total")

    def forget(self, session_id: str) -> None:
        """The session ended before it connected (or after: then nothing to do)."""
        self._release(session_id)

    def _release(self, session_id: str) -> bool:
        pending = self._pending.pop(session_id, None)
        if pending is None:
            return False
        pending.timer.cancel()
        self._by_client[pending.client] -= 1
        if self._by_client[pending.client] <= 0:
            del self._by_client[pending.client]
        return True

    def _expire(self, session_id: str) -> None:
        if not self._release(session_id):
            return
        self._metrics.inc("sessions_connect_timeouts_total")
        log.info("session %s did not connect within %g s: closed", session_id, self.deadline_s)
        self._on_expired(session_id)
