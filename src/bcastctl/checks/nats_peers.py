"""nats-peers: everything connected to a region's NATS belongs to the fleet.

From each NATS server's /varz and /gatewayz: a gateway connected in either direction
whose name is not a region of the fleet fails (a rogue server joined the super-cluster;
the rendered config refuses it with gateway authorization and reject_unknown_cluster,
a hand-made one may not). From /connz?auth=true: a client connection fails when neither its
authenticated user nor its connection name (all a server without per-node users, such
as one with `no_auth_user`, knows) is an expected node of the fleet, and its user is
not a tool user (read-only `bcastctl`, system `sys`).
One result per region.
"""

from __future__ import annotations

from typing import Final

from bcastctl.checks.base import Check, CheckContext, CheckResult, Finding, fail, ok
from bcastctl.checks.views import expected_nodes
from bcastctl.errors import BcastError
from bcastctl.protocol import NATS_MONITOR_USER, NATS_SYSTEM_USER
from bcastctl.readers.nats import Connz, ServerLinks, read_connz, read_server_links
from bcastctl.targets.base import EndpointSource, RegionEndpoints

NAME: Final = "nats-peers"
TOOL_USERS = frozenset({NATS_MONITOR_USER, NATS_SYSTEM_USER})


class NatsPeersFound(Finding):
    """Scope a region: what is connected to its NATS that the fleet does not know."""

    check = NAME
    foreign_gateways: list[str]  # gateway names that are not fleet regions
    unknown_clients: list[str]  # client identities that are neither nodes nor tool users


def foreign_gateways(servers: list[ServerLinks], regions: set[str]) -> list[str]:
    """Gateway names connected to any of `servers` that are not fleet regions."""
    connected: set[str] = set()
    for server in servers:
        connected |= set(server.outbound_rtt_ms) | server.inbound
    return sorted(connected - regions)


def unknown_clients(connz: list[Connz], known: set[str]) -> list[str]:
    """Identities of client connections that are neither known nodes nor tool users."""
    unknown: set[str] = set()
    for answer in connz:
        for connection in answer.get("connections") or []:
            user, name = connection.get("authorized_user", ""), connection.get("name", "")
            if user in known or user in TOOL_USERS:
                continue
            if name in known:  # a server without per-node users knows clients by name only
                continue
            unknown.add(name or f"{user or 'anonymous'} from {connection.get('ip', '?')}")
    return sorted(unknown)


class NatsPeers(Check):
    name = NAME
    title = "only fleet regions as gateways and fleet nodes as clients on NATS"
    layer = "nats"

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        sources = [EndpointSource(ctx.target, m, ctx.timeout_s) for m in region.nats_monitors]
        links = await ctx.gather([read_server_links(source) for source in sources])
        connz = await ctx.gather([read_connz(source) for source in sources])
        answers = [*links, *connz]
        errors = [a for a in answers if isinstance(a, BaseException)]
        for error in errors:
            if not isinstance(error, BcastError | TimeoutError):
                raise error
        servers = [a for a in links if isinstance(a, ServerLinks)]
        if not servers:
            return []  # nats-gateways reports an unreachable NATS
        expected, _ = await expected_nodes(ctx)
        gateways = foreign_gateways(servers, set(ctx.target.region_names))
        clients = unknown_clients([a for a in connz if isinstance(a, dict)], set(expected))
        values = NatsPeersFound(foreign_gateways=gateways, unknown_clients=clients).as_values()
        problems = []
        if gateways:
            problems.append(f"gateway(s) not in the fleet connected: {', '.join(gateways)}")
        if clients:
            problems.append(f"client(s) that are not fleet nodes: {', '.join(clients)}")
        if problems:
            return [
                fail(
                    self.name,
                    region.name,
                    "; ".join(problems),
                    hint="a server or client outside the fleet is on NATS: render the NATS "
                    "config again (authorization, reject_unknown_cluster) and rotate the "
                    "NATS Secrets if a credential leaked",
                    values=values,
                )
            ]
        return [
            ok(
                self.name,
                region.name,
                f"{len(servers)} server(s): only fleet gateways and nodes connected",
                values=values,
            )
        ]
