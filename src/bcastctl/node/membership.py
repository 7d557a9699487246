"""Membership, Erlang style: signed, fresh heartbeats in, `members` and `rejected` out.

A heartbeat is JSON signed with HMAC-SHA256 under the fleet's cluster secret
(the "cookie"). A peer whose signature fails is listed in `rejected`, never in
`members`. A member that misses beats for `peer_timeout_s` is dropped, and its
streams leave the registry with it (the registry reads members' claims).

Only fresh beats count (a signature proves who wrote a beat, not when): every beat
carries its node's boot id (ordered by start time) and a sequence number. A node keeps
the last (boot, seq) of every peer, also after the peer went down, and refuses a beat
from an older boot, one whose seq is not newer, one sent outside the freshness window
of its own clock, and, from a peer it declared down, one sent before that moment: a
beat recorded from NATS and published again revives nobody and moves no stream.
A peer cut off by a partition comes back with its next beat (sent after it was
declared down); a restarted node comes back with its new, later boot.
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
WRONG_SUBJECT = "published on another node's heartbeat subject"
# How far a beat's `sent` may be from this node's clock: bounds a replay of a beat this
# node never saw, and tolerates that much clock skew between nodes.
FRESHNESS_WINDOW_S = 10.0
STALE_WARNING_EVERY_S = 60.0


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
    seq, sent, boot = body.get("seq"), body.get("sent"), body.get("boot")
    if not (isinstance(seq, int) and isinstance(sent, int | float) and isinstance(boot, str)):
        raise VerifyError("malformed heartbeat: boot, seq or sent missing", name, region)
    return body  # type: ignore[no-any-return]


@dataclass
class Incarnation:
    """The newest beat accepted from a peer; kept after the peer is declared down."""

    boot: str
    seq: int
    down_at: float | None = None  # wall clock when this node declared the peer down

    def refuses(self, body: HeartbeatBody) -> str | None:
        """Why `body` is not newer than this incarnation, or None when it is."""
        if body["boot"] < self.boot:
            return "from an earlier boot"
        if body["boot"] == self.boot and body["seq"] <= self.seq:
            return f"seq {body['seq']} not after {self.seq} (replayed or duplicate)"
        if body["boot"] == self.boot and self.down_at is not None and body["sent"] <= self.down_at:
            return "sent before the node was declared down"
        return None


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
    incarnations: dict[str, Incarnation] = field(default_factory=dict)
    ups: int = 0
    downs: int = 0
    rejected_beats: int = 0
    stale_beats: int = 0
    _stale_warned: dict[str, float] = field(default_factory=dict)  # peer -> monotonic time

    def stale_reason(self, body: HeartbeatBody, wall: float) -> str | None:
        """Why a well-signed beat is not fresh, or None when it is."""
        age = wall - float(body["sent"])
        if abs(age) > FRESHNESS_WINDOW_S:
            return f"sent {age:+.1f} s from now, outside the {FRESHNESS_WINDOW_S:g} s window"
        last = self.incarnations.get(body["name"])
        return last.refuses(body) if last is not None else None

    def _log_stale(self, name: str, reason: str, now: float) -> None:
        """A warning per peer at most once a minute: a replay, or clocks out of step (then
        every beat of that peer is refused and it never becomes a member)."""
        if now - self._stale_warned.get(name, -STALE_WARNING_EVERY_S) >= STALE_WARNING_EVERY_S:
            self._stale_warned[name] = now
            log.warning("refused a stale heartbeat from %s: %s", name, reason)

    def accept(self, body: HeartbeatBody, now: float, wall: float) -> bool:
        """Take a well-signed beat if it is fresh; False (and counted) when it is not."""
        if body["name"] == self.self_name:
            return False
        reason = self.stale_reason(body, wall)
        if reason is not None:
            self.stale_beats += 1
            self._log_stale(body["name"], reason, now)
            return False
        self.incarnations[body["name"]] = Incarnation(body["boot"], body["seq"])
        known = self.members.get(body["name"])
        self.members[body["name"]] = Member(body, now)
        if known is None:
            self.ups += 1
            log.info("node up: %s (%s, %s)", body["name"], body["region"], body["address"])
            self.on_change()
        elif known.body["boot"] != body["boot"] or known.body["streams"] != body["streams"]:
            self.on_change()
        return True

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

    def expire(self, now: float, wall: float) -> list[str]:
        """Drop members silent for longer than the peer timeout; returns their names."""
        gone = [n for n, m in self.members.items() if now - m.last_seen > self.peer_timeout_s]
        for name in gone:
            member = self.members.pop(name)
            self.incarnations[name].down_at = wall
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
                draining=bool(m.body.get("draining", False)),
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
