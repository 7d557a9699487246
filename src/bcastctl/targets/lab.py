"""The Target over the lab's state: every endpoint is a loopback HTTP URL in state.json.

A region is reachable when any of its processes (NATS monitor, a node's admin
port) answers; a lab whose processes are all gone is "no region reachable".
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from bcastctl.errors import ConfigError, UnreachableError
from bcastctl.exposure import gateway_hosts, mcs_peers, mode_label, reach_dialled_peers
from bcastctl.fleet import Fleet, load_fleet
from bcastctl.targets.base import (
    Capability,
    DnsExpectation,
    Endpoint,
    GatewayDial,
    HttpResponse,
    NodeEndpoints,
    RegionEndpoints,
    TurnEndpoint,
)
from bcastctl.targets.lab_state import GATEWAY_CA_FILE, LabState, RegionState, load_lab_state


def _dns_expectations(state: LabState, fleet: Fleet, region: str) -> tuple[DnsExpectation, ...]:
    expectations: list[DnsExpectation] = []
    over_mcs = set(mcs_peers(fleet, region))
    for other in state.regions:
        if other.name not in over_mcs:
            continue
        names = fleet.clusterset_names(other.name)
        nodes = tuple(sorted(node.advertise_address for node in other.nodes))
        gateway_host = other.nats_gateway_listen.rpartition(":")[0]
        expectations.append(DnsExpectation(names["nats-gateway"], other.name, (gateway_host,)))
        expectations.append(DnsExpectation(names["broadcaster"], other.name, nodes or None))
    return tuple(expectations)


def _gateway_dials(state: LabState, fleet: Fleet, region: RegionState) -> tuple[GatewayDial, ...]:
    """Per peer gateway-reach checks (exposure.reach_dialled_peers), what the lab dials: for
    a peer outside MCS the delay link its NATS dials in place of the peer's node ports or
    load balancer (the lab's substitution of `gateway.gateways[*].url(s)`); for an MCS peer
    its clusterset name (exposure.gateway_hosts), which the lab DNS answers with the peer's
    gateway address, at the port the lab gave that gateway."""
    links = {link.to_region: link for link in region.links}
    listens = {other.name: other.nats_gateway_listen for other in state.regions}
    over_mcs = set(mcs_peers(fleet, region.name))
    dialler = fleet.region(region.name)
    dials: list[GatewayDial] = []
    for name in reach_dialled_peers(fleet, region.name):
        peer = fleet.region(name)
        if name in over_mcs and name in listens:
            ((host, _),) = gateway_hosts(fleet, dialler, peer)
            port = listens[name].rpartition(":")[2]
        elif name in links:
            host, _, port = links[name].listen.rpartition(":")
        else:
            continue
        dials.append(GatewayDial(name, mode_label(peer), host, int(port)))
    return tuple(dials)


def _turn(state: LabState, region: str) -> TurnEndpoint:
    turn = state.turn
    if turn.address is None:
        return TurnEndpoint(region, None, absent_reason=turn.reason or "the lab runs no TURN")
    host, _, port = turn.address.rpartition(":")
    return TurnEndpoint(region, host, int(port))


def region_endpoints(state: LabState, fleet: Fleet, region: RegionState) -> RegionEndpoints:
    nodes = tuple(
        NodeEndpoints(
            name=node.name,
            region=region.name,
            admin=Endpoint(region.name, node.admin_url) if node.pid is not None else None,
            signalling=Endpoint(region.name, node.signalling_url) if node.pid is not None else None,
        )
        for node in region.nodes
    )
    return RegionEndpoints(
        name=region.name,
        nats_monitors=(Endpoint(region.name, region.nats_monitor_url),),
        nodes=nodes,
        dns_expectations=_dns_expectations(state, fleet, region.name),
        turn=_turn(state, region.name),
        details={"state_dir": state.state_dir},
        gateway_dials=_gateway_dials(state, fleet, region),
    )


class LabTarget:
    """`bcastctl verify mesh --lab` and the lab's own tests."""

    def __init__(self, state: LabState, fleet: Fleet | None = None) -> None:
        self.state = state
        self._fleet = fleet if fleet is not None else load_fleet(state.fleet_path)
        self._session: Any = None

    @classmethod
    def from_state_dir(cls, state_dir: str | Path | None, fleet: Fleet | None = None) -> LabTarget:
        return cls(load_lab_state(state_dir), fleet)

    @property
    def kind(self) -> Capability:
        return "lab"

    @property
    def fleet(self) -> Fleet:
        return self._fleet

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"lab"})

    @property
    def region_names(self) -> Sequence[str]:
        return [region.name for region in self.state.regions]

    async def region(self, name: str, timeout_s: float) -> RegionEndpoints:
        endpoints = region_endpoints(self.state, self._fleet, self.state.region(name))
        probes = list(endpoints.nats_monitors) + [n.admin for n in endpoints.nodes if n.admin]
        answers = await asyncio.gather(
            *(self.request("GET", p, "/healthz", timeout_s=min(timeout_s, 2.0)) for p in probes),
            return_exceptions=True,
        )
        if not any(isinstance(answer, HttpResponse) for answer in answers):
            raise UnreachableError(
                f"no process of lab region {name} answers (NATS monitor and nodes)",
                hint="is the lab up? `bcastctl lab status`",
            )
        return endpoints

    async def request(
        self,
        method: str,
        endpoint: Endpoint,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 5.0,
    ) -> HttpResponse:
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession()
        url = endpoint.url.rstrip("/") + path
        try:
            async with asyncio.timeout(timeout_s):
                async with self._session.request(
                    method, url, params=params, data=body, headers=headers
                ) as response:
                    data = await response.read()
                    return HttpResponse(response.status, data, url, dict(response.headers))
        except TimeoutError as e:
            raise UnreachableError(f"{url}: no answer within {timeout_s:g} s") from e
        except aiohttp.ClientError as e:
            raise UnreachableError(f"{url}: {type(e).__name__}: {e}") from e

    def configured_rtt_ms(self, a: str, b: str) -> float | None:
        """The emulated RTT from a to b: the one-way delay of both gateway links (now)."""
        try:
            there = self.state.link(a, b).current_one_way_ms
            back = self.state.link(b, a).current_one_way_ms
        except ConfigError:
            return None
        return there + back

    async def gateway_ca(self, region: str) -> str | None:
        """The CA the lab made for gateway TLS (the same in every region)."""
        if self._fleet.nats.gateway_tls is None:
            return None
        try:
            return (Path(self.state.state_dir) / GATEWAY_CA_FILE).read_text()
        except OSError:
            return None

    async def whip_token(self) -> str:
        """The lab's WHIP token (the media check publishes with it); never printed."""
        from bcastctl.targets.lab_state import lab_whip_token

        return lab_whip_token(self.state)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
