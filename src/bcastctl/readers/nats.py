"""NATS monitoring (/varz, /gatewayz, /connz, /routez): raw payloads and gateway verdicts.

The payload shapes are nats-server's (`server/monitor.go`: `Varz`, `GatewayOptsVarz`,
`Gatewayz`, `RemoteGatewayz`, `ConnInfo`, `Connz`, `Routez`, `RouteInfo`; documented
at docs.nats.io "Monitoring"); only the fields bcastctl reads are declared.

Facts the verdicts rest on (measured, see FINDINGS.md): a dead link simply vanishes
from /gatewayz, there is no "down" state, so configured-but-absent is a cut link; every
server of a region keeps its own outbound connection to each other gateway, but a
remote server dials just one server of the region, so inbound links are counted over
the region's servers, never required on each.

A connected link's RTT is measured by nats-server's own PING/PONG on it: /gatewayz says
"0s" until the link's first PONG (`ConnInfo.fill` prints `client.getRTT()`, which is 0
until `processPong` sets `c.rtt`; for a gateway the first PING leaves 1 s after the
connection registers, plus up to 20 %: `setFirstPingTimer`, `firstPingInterval`). That 0
is "not measured yet", never an RTT: it is read as None.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal, TypedDict, cast

from bcastctl.errors import UnreachableError
from bcastctl.readers.source import JsonSource

# --- raw payloads ---------------------------------------------------------------------


class VarzRemoteGateway(TypedDict, total=False):
    name: str
    urls: list[str]


class VarzGateway(TypedDict, total=False):
    name: str
    host: str
    port: int
    gateways: list[VarzRemoteGateway]  # the configured remote gateways
    reject_unknown: bool


class Varz(TypedDict, total=False):
    server_id: str
    server_name: str
    version: str
    connections: int
    routes: int
    remotes: int
    gateway: VarzGateway


class ConnInfo(TypedDict, total=False):
    cid: int
    kind: str
    type: str
    ip: str
    port: int
    rtt: str  # a Go duration ("93µs")
    name: str
    lang: str
    version: str
    authorized_user: str  # with /connz?auth=true
    account: str


class RemoteGatewayz(TypedDict, total=False):
    configured: bool
    connection: ConnInfo  # absent while the link is not connected


class Gatewayz(TypedDict, total=False):
    server_id: str
    name: str
    host: str
    port: int
    outbound_gateways: dict[str, RemoteGatewayz]
    inbound_gateways: dict[str, list[RemoteGatewayz]]


class Connz(TypedDict, total=False):
    server_id: str
    num_connections: int
    total: int
    offset: int
    limit: int
    connections: list[ConnInfo]


class RouteInfo(TypedDict, total=False):
    rid: int
    remote_id: str
    remote_name: str
    did_solicit: bool
    is_configured: bool
    ip: str
    port: int
    rtt: str


class Routez(TypedDict, total=False):
    server_id: str
    server_name: str
    num_routes: int
    routes: list[RouteInfo]


_GO_DURATION = re.compile(r"([0-9.]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_MS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "μs": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4,
            "h": 3.6e6}  # fmt: skip


def go_duration_ms(text: str) -> float | None:
    """Milliseconds of a Go duration string as NATS prints it ("93µs", "84.2ms", "1m2s")."""
    parts = _GO_DURATION.findall(text or "")
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _UNIT_MS[unit] for number, unit in parts)


# --- verdicts -------------------------------------------------------------------------

Direction = Literal["outbound", "inbound", "configuration", "rtt"]
NOT_MEASURED: Final = "not measured yet"  # how a connected link's missing RTT is written


@dataclass(frozen=True)
class LinkGap:
    """One missing piece of the link between `region` and `peer`, seen from `region`."""

    region: str
    peer: str
    direction: Direction

    def __str__(self) -> str:
        if self.direction == "outbound":
            return f"{self.region}->{self.peer}"
        if self.direction == "inbound":
            return f"{self.peer}=>{self.region} (inbound at {self.region})"
        if self.direction == "rtt":
            return f"{self.region}->{self.peer} RTT {NOT_MEASURED}"
        return f"{self.peer} not configured in {self.region}'s gateways"


@dataclass(frozen=True)
class GatewayLinks:
    """What one server's /gatewayz says: its gateway name and its connected links."""

    name: str  # the gateway (region) name this server is in
    # connected outbound gateways -> RTT; None: connected, RTT not measured yet
    outbound_rtt_ms: Mapping[str, float | None]
    inbound: frozenset[str]  # regions with at least one inbound connection here

    def connected_both_ways(self, peers: Iterable[str]) -> bool:
        return all(p in self.outbound_rtt_ms and p in self.inbound for p in peers)

    @property
    def unmeasured(self) -> frozenset[str]:
        """Connected outbound gateways whose RTT nats-server has not measured yet."""
        return frozenset(peer for peer, rtt in self.outbound_rtt_ms.items() if rtt is None)


@dataclass(frozen=True)
class ServerLinks(GatewayLinks):
    """One NATS server: its links (/gatewayz) and its configured gateways (/varz)."""

    monitor: str  # the monitor URL, as humans read it
    configured: frozenset[str]  # remote gateways in its config (its own name excluded)

    @property
    def unexpected(self) -> frozenset[str]:
        """Connected gateways (either direction) that its configuration does not name."""
        return (frozenset(self.outbound_rtt_ms) | self.inbound) - self.configured


@dataclass(frozen=True)
class PairLinks:
    """The link region -> peer over all of the region's servers (the nats-gateways verdict)."""

    region: str
    peer: str
    servers: int
    not_configured: tuple[str, ...]  # monitors of servers whose config lacks the peer
    no_outbound: tuple[str, ...]  # monitors of servers with no connected outbound to the peer
    inbound_servers: int  # servers with an inbound connection from the peer
    unmeasured: tuple[str, ...]  # monitors of servers connected to the peer, RTT not measured
    rtt_ms: float | None  # the slowest server's outbound RTT; None until all are measured

    @property
    def outbound_connected(self) -> int:
        return self.servers - len(self.no_outbound)

    def gaps(self, *, measured: bool = False) -> list[LinkGap]:
        """What is missing of the link; `measured`: an RTT not measured yet is missing too."""
        gaps = [LinkGap(self.region, self.peer, "configuration")] if self.not_configured else []
        if self.no_outbound:
            gaps.append(LinkGap(self.region, self.peer, "outbound"))
        if not self.inbound_servers:
            gaps.append(LinkGap(self.region, self.peer, "inbound"))
        if measured and self.unmeasured:
            gaps.append(LinkGap(self.region, self.peer, "rtt"))
        return gaps


def judge_pair(region: str, peer: str, servers: Sequence[ServerLinks]) -> PairLinks:
    """region -> peer: configured and dialled on every server; dialled into at least one."""
    connected = [s for s in servers if peer in s.outbound_rtt_ms]
    unmeasured = tuple(s.monitor for s in connected if peer in s.unmeasured)
    rtts = [rtt for s in connected if (rtt := s.outbound_rtt_ms[peer]) is not None]
    return PairLinks(
        region=region,
        peer=peer,
        servers=len(servers),
        not_configured=tuple(s.monitor for s in servers if peer not in s.configured),
        no_outbound=tuple(s.monitor for s in servers if peer not in s.outbound_rtt_ms),
        inbound_servers=sum(1 for s in servers if peer in s.inbound),
        unmeasured=unmeasured,
        rtt_ms=round(max(rtts), 3) if rtts and not unmeasured else None,
    )


def region_gaps(
    region: str, servers: Sequence[ServerLinks], peers: Iterable[str], *, measured: bool = False
) -> list[LinkGap]:
    """Every gap of `region`'s links to `peers` (empty: the region's gateways are whole).

    `measured` (lab readiness): a link counts only once nats-server has measured its RTT,
    so that what reads RTT next (probe rtt, verify mesh) finds a measured one.
    """
    return [
        gap for peer in peers for gap in judge_pair(region, peer, servers).gaps(measured=measured)
    ]


# --- parsing and reading --------------------------------------------------------------


def parse_gatewayz(gatewayz: Gatewayz) -> GatewayLinks:
    outbound: dict[str, float | None] = {}
    for name, link in (gatewayz.get("outbound_gateways") or {}).items():
        connection = link.get("connection")
        if connection:
            rtt_ms = go_duration_ms(str(connection.get("rtt", "")))
            outbound[str(name)] = rtt_ms if rtt_ms else None  # "0s": not measured yet
    inbound = frozenset(
        str(name) for name, conns in (gatewayz.get("inbound_gateways") or {}).items() if conns
    )
    return GatewayLinks(str(gatewayz.get("name") or ""), outbound, inbound)


def parse_server_links(monitor: str, varz: Varz, gatewayz: Gatewayz) -> ServerLinks:
    gateway = varz.get("gateway") or {}
    links = parse_gatewayz(gatewayz)
    own = links.name or str(gateway.get("name") or "")
    configured = frozenset(str(g.get("name")) for g in gateway.get("gateways") or []) - {own}
    return ServerLinks(own, links.outbound_rtt_ms, links.inbound, monitor, configured)


def _document(source: JsonSource, path: str, answer: Any) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise UnreachableError(f"{source.url}{path}: not a NATS monitoring document")
    return answer


async def read_varz(source: JsonSource) -> Varz:
    return cast(Varz, _document(source, "/varz", await source.get_json("/varz")))


async def read_gatewayz(source: JsonSource) -> Gatewayz:
    return cast(Gatewayz, _document(source, "/gatewayz", await source.get_json("/gatewayz")))


async def read_server_links(source: JsonSource) -> ServerLinks:
    """One NATS server's /varz and /gatewayz; UnreachableError if it does not answer."""
    varz = await read_varz(source)
    return parse_server_links(source.url, varz, await read_gatewayz(source))


async def read_connz(source: JsonSource, limit: int = 1024) -> Connz:
    """Client connections with their authenticated user and account (`auth=true`)."""
    params = {"auth": "true", "limit": str(int(limit))}
    return cast(Connz, _document(source, "/connz", await source.get_json("/connz", params)))


async def read_routez(source: JsonSource) -> Routez:
    return cast(Routez, _document(source, "/routez", await source.get_json("/routez")))
