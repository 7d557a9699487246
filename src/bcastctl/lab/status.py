"""`lab status`: the recorded lab, checked live (processes, gateways, links, nodes).

Returns a LabStatus value; it carries no secret (the state never holds one).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import msgspec

from bcastctl.errors import BcastError
from bcastctl.lab import procs, readiness
from bcastctl.lab.linkctl import link_request
from bcastctl.model import FrozenModel
from bcastctl.readers.cluster import member_names
from bcastctl.readers.nats import LinkGap, ServerLinks, region_gaps
from bcastctl.targets.lab_state import (
    LabDifference,
    LabState,
    NodeState,
    RegionState,
    load_lab_state,
)


class LinkStatus(FrozenModel):
    name: str
    listen: str
    configured_one_way_ms: float
    one_way_ms: float | None  # None when linkd does not answer
    cut: bool | None
    open_connections: int | None


class NodeStatus(FrozenModel):
    name: str
    address: str
    signalling_url: str
    admin_url: str
    pid: int | None
    running: bool
    ready: bool
    sees: int | None  # how many other nodes its /api/cluster lists
    # its load, from its /api/cluster (None when it does not answer)
    sessions: int | None = None
    max_sessions: int | None = None
    cpu: float | None = None
    draining: bool | None = None


class LabRegionStatus(FrozenModel):
    name: str
    nats_client_url: str
    nats_monitor_url: str
    nats_pid: int | None
    nats_running: bool
    gateways_connected: list[str]  # regions with an outbound connection from here
    gateways_missing: list[str]  # regions with no outbound connection from here
    gateway_gaps: list[LinkGap] = []  # outbound, inbound, configuration: as verify mesh judges
    links: list[LinkStatus]
    nodes: list[NodeStatus]


class LabStatus(FrozenModel):
    state_dir: str
    fleet_name: str
    fleet_path: str
    loopback_prefix: str
    ready_after_s: float | None
    dns_address: str
    dns_running: bool
    turn_address: str | None
    turn_running: bool
    turn_note: str | None
    linkd_running: bool
    regions: list[LabRegionStatus]
    problems: list[str]
    rendered_from: str = ""  # "fleet" or the render output directory `lab up --from` ran
    differences: list[LabDifference] = []  # the lab's substitutions and what it cannot honour
    healthy: bool = False  # always `not problems` (set when built; last in the JSON)

    def __post_init__(self) -> None:
        super().__post_init__()
        msgspec.structs.force_setattr(self, "healthy", not self.problems)


def _alive(pid: int | None) -> bool:
    return pid is not None and procs.is_alive(pid)


async def _node_status(session: aiohttp.ClientSession, node: NodeState) -> NodeStatus:
    ready, sees, load = False, None, None
    if _alive(node.pid):
        answer = await readiness.ask_node(session, node)
        ready = answer.readyz == 200
        sees = len(member_names(answer.view)) if answer.view is not None else None
        load = answer.view.get("load") if answer.view is not None else None
    return NodeStatus(
        name=node.name,
        address=node.advertise_address,
        signalling_url=node.signalling_url,
        admin_url=node.admin_url,
        pid=node.pid,
        running=_alive(node.pid),
        ready=ready,
        sees=sees,
        sessions=load["sessions"] if load else None,
        max_sessions=load["max_sessions"] if load else None,
        cpu=load["cpu"] if load else None,
        draining=load["draining"] if load else None,
    )


async def _region_status(
    session: aiohttp.ClientSession,
    state: LabState,
    region: RegionState,
    live_links: dict[str, dict[str, Any]],
) -> LabRegionStatus:
    others = [r.name for r in state.regions if r.name != region.name]
    links = await readiness.nats_links(session, region)
    if isinstance(links, ServerLinks):
        connected = [name for name in others if name in links.outbound_rtt_ms]
        gaps = region_gaps(region.name, [links], others)
    else:
        connected = []
        gaps = [LinkGap(region.name, other, "outbound") for other in others]
    link_status = []
    for link in region.links:
        live = live_links.get(link.name, {})
        link_status.append(
            LinkStatus(
                name=link.name,
                listen=link.listen,
                configured_one_way_ms=link.one_way_ms,
                one_way_ms=live.get("one_way_ms"),
                cut=live.get("cut"),
                open_connections=live.get("open_connections"),
            )
        )
    nodes = await asyncio.gather(*(_node_status(session, node) for node in region.nodes))
    return LabRegionStatus(
        name=region.name,
        nats_client_url=region.nats_client_url,
        nats_monitor_url=region.nats_monitor_url,
        nats_pid=region.nats_pid,
        nats_running=_alive(region.nats_pid),
        gateways_connected=connected,
        gateways_missing=[name for name in others if name not in connected],
        gateway_gaps=gaps,
        links=link_status,
        nodes=list(nodes),
    )


def _gateway_problem(gap: LinkGap) -> str:
    if gap.direction == "outbound":
        return f"gateway {gap.region}->{gap.peer} down"
    if gap.direction == "inbound":
        return f"gateway {gap.peer}=>{gap.region} down (no inbound connection at {gap.region})"
    if gap.direction == "rtt":
        return f"gateway {gap}"
    return f"gateway {gap.peer} not configured in {gap.region}"


def _problems(status_regions: list[LabRegionStatus], state: LabState, linkd_ok: bool) -> list[str]:
    problems = [] if linkd_ok else ["link daemon not answering"]
    total_nodes = len(state.nodes)
    for region in status_regions:
        if not region.nats_running:
            problems.append(f"NATS {region.name} is not running")
        problems += [_gateway_problem(gap) for gap in region.gateway_gaps]
        problems += [f"link {link.name} is cut" for link in region.links if link.cut]
        for node in region.nodes:
            if not node.running:
                problems.append(f"node {node.name} is not running")
            elif node.draining:
                problems.append(f"node {node.name} is draining ({node.sessions} sessions left)")
            elif not node.ready or node.sees != total_nodes - 1:
                problems.append(f"node {node.name} sees {node.sees} of {total_nodes - 1} peers")
    if not _alive(state.dns.pid):
        problems.append("DNS server is not running")
    if state.turn.address is not None and not _alive(state.turn.pid):
        problems.append("TURN (coturn) is not running")
    return problems


async def lab_status(state_dir: Path) -> LabStatus:
    state = load_lab_state(state_dir)
    try:
        live_links = await link_request(state.linkd.control_socket, {"op": "status"}, 2.0)
        links = {link["name"]: link for link in live_links}
    except BcastError:
        links = {}
    async with aiohttp.ClientSession() as session:
        regions = await asyncio.gather(
            *(_region_status(session, state, region, links) for region in state.regions)
        )
    return LabStatus(
        state_dir=state.state_dir,
        fleet_name=state.fleet_name,
        fleet_path=state.fleet_path,
        loopback_prefix=state.loopback_prefix,
        ready_after_s=state.ready_after_s,
        dns_address=state.dns.address,
        dns_running=_alive(state.dns.pid),
        turn_address=state.turn.address,
        turn_running=_alive(state.turn.pid),
        turn_note=state.turn.reason,
        linkd_running=_alive(state.linkd.pid),
        regions=list(regions),
        problems=_problems(list(regions), state, bool(links)),
        rendered_from=state.rendered_from,
        differences=state.differences,
    )
