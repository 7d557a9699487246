"""Placement: which node serves a WHIP/WHEP offer that reached this node.

The best node for an offer, from what the signed heartbeats say about every node
(sessions, max_sessions, CPU, draining, the streams each holds or relays):
1. this node, when it has room and is not draining;
2. else the least-loaded node of the region with room (sessions / max_sessions, then
   CPU), handed the request over NATS (routing.py) without the client noticing; a
   viewer of a stream that comes from another region ranks first the nodes that already
   relay it (one WAN copy per node, not per viewer), this node included;
3. else a `307` to the public signalling URL of the nearest region (great-circle
   distance between the regions' coordinates) with a node that has room;
4. else `503`, saying that the whole fleet is full.
A node's load in its heartbeat is up to one beat old: offers handed to it since its
last beat are added to it, and a neighbour that answers 503 (full after all) or not at
all is passed over for the next one.

Decisions are counted in /metrics (placement_{local,neighbour,redirected,refused}_total)
and logged at debug level.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bcastctl.adapters.http_server import read_body
from bcastctl.node.http_errors import HttpProblem
from bcastctl.node.routing import bearer_ok, holder_of

if TYPE_CHECKING:
    from bcastctl.node.membership import Member
    from bcastctl.node.service import Node

log = logging.getLogger("bcastctl.node.placement")

PLACED_PATHS = ("/api/whip", "/api/whep")
RESOURCE_PREFIX = "/api/resource/"
Kind = Literal["local", "neighbour", "redirect", "refuse"]
METRIC = {
    "local": "placement_local_total",
    "neighbour": "placement_neighbour_total",
    "redirect": "placement_redirected_total",
    "refuse": "placement_refused_total",
}


@dataclass(frozen=True)
class Candidate:
    """A node as placement sees it (this one, or a member from its last heartbeat)."""

    name: str
    region: str
    sessions: int
    max_sessions: int
    cpu: float
    draining: bool
    lat: float
    lon: float
    public_url: str
    streams: frozenset[str]  # streams it holds or relays

    @property
    def room(self) -> bool:
        return not self.draining and self.sessions < self.max_sessions

    def load(self) -> tuple[float, float]:
        return self.sessions / max(1, self.max_sessions), self.cpu


@dataclass(frozen=True)
class Choice:
    kind: Kind
    node: str = ""
    url: str = ""
    reason: str = ""


def distance_km(a: Candidate, b: Candidate) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (a.lat, a.lon, b.lat, b.lon))
    h = (
        math.sin((lat2 - lat1) / 2) ** 2
        + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0 * math.asin(min(1.0, math.sqrt(h)))


def choices(me: Candidate, others: list[Candidate], stream: str, over_wan: bool) -> list[Choice]:
    """Where to serve, best first: region nodes (this one first when it has room), then one
    redirect to the nearest region with room, then a refusal that says why."""
    region = [c for c in [me, *others] if c.region == me.region and c.room]

    def rank(c: Candidate) -> tuple[int, int, float, float, str]:
        relays = 0 if over_wan and stream in c.streams else 1
        return (relays, 0 if c is me else 1, *c.load(), c.name)

    found = [Choice("local" if c is me else "neighbour", c.name) for c in sorted(region, key=rank)]
    regions: dict[str, list[Candidate]] = {}
    for c in others:
        if c.region != me.region:
            regions.setdefault(c.region, []).append(c)
    with_room = {r: nodes for r, nodes in regions.items() if any(c.room for c in nodes)}
    reachable = {
        r: url
        for r, nodes in with_room.items()
        if (url := next((c.public_url for c in nodes if c.public_url), ""))
    }
    if reachable:
        nearest = min(reachable, key=lambda r: (distance_km(me, regions[r][0]), r))
        found.append(Choice("redirect", url=reachable[nearest], node=nearest))
    total = 1 + len(others)
    if with_room and not reachable:
        reason = (
            f"region {me.region} is full; regions with room ({', '.join(sorted(with_room))}) "
            "have no public signalling URL (BCAST_PUBLIC_URL)"
        )
    else:
        reason = f"the fleet is full: all {total} nodes are at their session limit or draining"
    found.append(Choice("refuse", reason=reason))
    return found


def candidate(member: Member, extra: int) -> Candidate:
    body = member.body
    return Candidate(
        name=body["name"],
        region=body["region"],
        sessions=int(body["sessions"]) + extra,
        max_sessions=int(body["max_sessions"]),
        cpu=float(body["cpu"]),
        draining=bool(body.get("draining", False)),
        lat=float(body["lat"]),
        lon=float(body["lon"]),
        public_url=str(body.get("public_url", "")),
        streams=frozenset([*body["streams"], *body.get("relays", [])]),
    )


@dataclass
class Placer:
    node: Node
    handed: dict[str, tuple[int, int]] = field(default_factory=dict)  # node -> (seq, offers)

    def me(self) -> Candidate:
        s, hub = self.node.settings, self.node.hub
        return Candidate(
            name=s.name,
            region=s.region,
            sessions=hub.session_count(),
            max_sessions=s.max_sessions,
            cpu=self.node.cluster.cpu_share,
            draining=self.node.draining,
            lat=s.lat,
            lon=s.lon,
            public_url=s.public_url,
            streams=frozenset([*hub.local, *hub.remote]),
        )

    def others(self) -> list[Candidate]:
        found = []
        for name, member in self.node.cluster.membership.members.items():
            seq, offers = self.handed.get(name, (-1, 0))
            found.append(candidate(member, offers if seq == member.body["seq"] else 0))
        return found

    def _beat_seq(self, name: str) -> int:
        member = self.node.cluster.membership.members.get(name)
        return member.body["seq"] if member is not None else -1

    def _handed_to(self, name: str, beat: int) -> None:
        """Count an offer handed to `name` while its last beat was `beat` (read before the
        hand-over: a beat arriving meanwhile may already count the new session)."""
        seq, offers = self.handed.get(name, (-1, 0))
        self.handed[name] = (beat, offers + 1 if seq == beat else 1)

    async def place(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        from bcastctl.node.signalling import STREAM_ID  # signalling imports this module

        stream = request.query.get("stream", "")
        viewer = request.path == "/api/whep"
        auth = bearer_ok(request, self.node.settings.whip_token)
        if (not viewer and not auth) or not STREAM_ID.fullmatch(stream):
            return await handler(request)  # its 4xx comes from here: never placed elsewhere
        holder = self.node.cluster.holders().get(stream) if viewer else None
        over_wan = holder is not None and holder.region != self.node.settings.region
        body: bytes | None = None
        for choice in choices(self.me(), self.others(), stream, over_wan):
            if choice.kind == "neighbour":
                if body is None:
                    body = await read_body(request, self.node.settings.body_deadline_s)
                beat = self._beat_seq(choice.node)
                answer = await self.node.calls.forward(choice.node, request, body, auth)
                if answer is None or answer.status == 503:
                    log.debug("placement: %s passed over (%s)", choice.node, answer)
                    continue
                self._handed_to(choice.node, beat)
                self._count(request, choice)
                return answer.response()
            self._count(request, choice)
            if choice.kind == "local":
                return await handler(request)
            if choice.kind == "redirect":  # RFC 9725 section 4.5: clients follow redirects
                return web.Response(status=307, headers={"Location": choice.url + request.raw_path})
            raise HttpProblem(503, choice.reason)
        raise AssertionError("choices() always ends with a refusal")

    def _count(self, request: web.Request, choice: Choice) -> None:
        self.node.metrics.inc(METRIC[choice.kind])
        log.debug(
            "placement: %s %s -> %s %s",
            request.method,
            request.path_qs,
            choice.kind,
            choice.node or choice.url or choice.reason,
        )


def region_middleware(node: Node) -> Middleware:
    """Hops are served here; a resource held elsewhere goes to its holder; offers are placed."""
    placer = Placer(node)

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        client = node.calls.verified_hop(request)
        if client is not None:
            return await handler(request.clone(remote=client))
        if request.method == "POST" and request.path in PLACED_PATHS:
            return await placer.place(request, handler)
        if request.method in ("DELETE", "PATCH") and request.path.startswith(RESOURCE_PREFIX):
            holder = holder_of(request.path[len(RESOURCE_PREFIX) :])
            if holder is not None and holder != node.settings.name:
                return await _to_holder(node, holder, request)
        return await handler(request)

    return middleware


async def _to_holder(node: Node, holder: str, request: web.Request) -> web.StreamResponse:
    body = await read_body(request, node.settings.body_deadline_s)
    auth = bearer_ok(request, node.settings.whip_token)
    answer = await node.calls.forward(holder, request, body, auth)
    if answer is None:
        raise HttpProblem(404, f"unknown resource (its node {holder} does not answer)")
    node.metrics.inc("resources_forwarded_total")
    return answer.response()
