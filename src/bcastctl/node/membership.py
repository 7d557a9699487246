"""Membership, Erlang style: signed heartbeats in, `members` and `rejected` out.

A heartbeat is JSON signed with HMAC-SHA256 under the fleet's cluster secret
(the "cookie"). A peer whose signature fails is listed in `rejected`, never in
`members`. A member that misses beats for `peer_timeout_s` is dropped, and its
streams leave the registry with it (the registry reads members' claims).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bcastctl.protocol import (
    PROTOCOL_VERSION,
    Heartbeat,
    HeartbeatBody,
    MemberView,
    RejectedPeer,
)

log = logging.getLogger("bcastctl.node.membership")

BAD_SIGNATURE = "bad signature (cluster secret mismatch)"


def sign(body: HeartbeatBody, secret: str) -> bytes:
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    signature = hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()
    return json.dumps(Heartbeat(body=text, sig=signature)).encode()


class VerifyError(ValueError):
    """A heartbeat that is not one (unparseable) or whose signature fails."""

    def __init__(self, reason: str, name: str = "?", region: str = "?") -> None:
        super().__init__(reason)
        self.reason = reason
        self.name = name
        self.region = region


def verify(data: bytes, secret: str) -> HeartbeatBody:
    """The body of a well-signed heartbeat; VerifyError otherwise."""
    try:
        envelope = json.loads(data)
        text, signature = envelope["body"], envelope["sig"]
        body = json.loads(text)
        name, region = str(body["name"]), str(body["region"])
    except (ValueError, KeyError, TypeError) as e:
        raise VerifyError(f"malformed heartbeat: {type(e).__name__}") from None
    expected = hmac.new(secret.encode(), str(text).encode(), hashlib.sha256).hexdigest()
    if not isinstance(signature, str) or not hmac.compare_digest(expected, signature):
        raise VerifyError(BAD_SIGNATURE, name, region)
    if body.get("v") != PROTOCOL_VERSION:
        raise VerifyError(f"protocol version {body.get('v')!r} unsupported", name, region)
    return body  # type: ignore[no-any-return]


@dataclass
class Member:
    body: HeartbeatBody
    last_seen: float  # time.monotonic()


@dataclass
class Rejection:
    name: str
    region: str
    reason: str
    count: int = 0
    last_seen: float = 0.0


@dataclass
class Membership:
    """This node's view of the other nodes; methods are called from the event loop only."""

    self_name: str
    peer_timeout_s: float
    on_change: Callable[[], None] = lambda: None
    members: dict[str, Member] = field(default_factory=dict)
    rejected: dict[tuple[str, str], Rejection] = field(default_factory=dict)
    ups: int = 0
    downs: int = 0
    rejected_beats: int = 0

    def accept(self, body: HeartbeatBody, now: float) -> None:
        if body["name"] == self.self_name:
            return
        known = self.members.get(body["name"])
        self.members[body["name"]] = Member(body, now)
        if known is None:
            self.ups += 1
            log.info("node up: %s (%s, %s)", body["name"], body["region"], body["address"])
            self.on_change()
        elif known.body["boot"] != body["boot"] or known.body["streams"] != body["streams"]:
            self.on_change()

    def reject(self, error: VerifyError, now: float) -> None:
        if error.name == self.self_name:
            return
        self.rejected_beats += 1
        key = (error.name, error.region)
        entry = self.rejected.get(key)
        if entry is None:
            entry = self.rejected[key] = Rejection(error.name, error.region, error.reason)
            log.warning(
                "rejected heartbeat from %s (%s): %s", error.name, error.region, error.reason
            )
        entry.count += 1
        entry.last_seen = now

    def expire(self, now: float) -> list[str]:
        """Drop members silent for longer than the peer timeout; returns their names."""
        gone = [n for n, m in self.members.items() if now - m.last_seen > self.peer_timeout_s]
        for name in gone:
            member = self.members.pop(name)
            self.downs += 1
            log.warning(
                "node down: %s (%s): no heartbeat for %.1f s",
                name,
                member.body["region"],
                now - member.last_seen,
            )
        # rejected peers that went quiet are forgotten after a longer while
        stale = [
            k for k, r in self.rejected.items() if now - r.last_seen > 10 * self.peer_timeout_s
        ]
        for key in stale:
            del self.rejected[key]
        if gone:
            self.on_change()
        return gone

    def member_views(self, now: float) -> list[MemberView]:
        return [
            MemberView(
                name=name,
                region=m.body["region"],
                address=m.body["address"],
                sessions=m.body["sessions"],
                max_sessions=m.body["max_sessions"],
                cpu=m.body["cpu"],
                last_seen_ms=round((now - m.last_seen) * 1000, 1),
            )
            for name, m in sorted(self.members.items())
        ]

    def rejected_views(self) -> list[RejectedPeer]:
        return [
            RejectedPeer(name=r.name, region=r.region, reason=r.reason, count=r.count)
            for _, r in sorted(self.rejected.items())
        ]


class CpuMeter:
    """This process's CPU use (1.0 = one core) since the previous reading."""

    def __init__(self) -> None:
        self._wall = time.monotonic()
        self._cpu = time.process_time()

    def read(self) -> float:
        wall, cpu = time.monotonic(), time.process_time()
        elapsed = wall - self._wall
        share = (cpu - self._cpu) / elapsed if elapsed > 0 else 0.0
        self._wall, self._cpu = wall, cpu
        return round(share, 3)
