"""The lab's address plan: which 127.x address and port every lab process uses.

Ports are the rendered ones (`RegionShape`, read from the rendered objects); only the
addresses are the lab's. With prefix `127.P` (the fleet's `lab.loopback_prefix`, default
127.77):
- region r (1-based) runs NATS on 127.P.r.1 (its rendered client, cluster, gateway and
  monitor ports);
- its nodes (the broadcaster pods) on 127.P.r.(10+j), each with the rendered ports;
- its delay link towards region t listens on 127.P.r.(100+t), the gateway port;
- its gateway advertises 127.P.r.250 where nothing listens (see `gateway_advertise`);
- the DNS server on 127.P.0.53, TURN on 127.P.0.3 (relays from the same address).

Because each lab lives under its own prefix, two labs never share an address. Before
`up`, a prefix is claimed (a file in the temp dir, created exclusively) and every
endpoint is checked to be free; a taken prefix moves the lab to the next one.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from bcastctl.errors import UsageError
from bcastctl.fleet import Fleet
from bcastctl.lab.procs import Transport, is_alive, port_is_free

DNS_PORT = 5353
TURN_PORT = 3478
TURN_RELAY_PORTS = (40000, 40999)
PREFIX_ATTEMPTS = 24
# If the usual ports are taken on every address (a server bound to 0.0.0.0:4222, say),
# the lab shifts all its ports by this much (still below the ephemeral port range).
PORT_OFFSETS = (0, 20000)


@dataclass(frozen=True)
class RegionShape:
    """What the rendered objects say about a region's processes: pods and ports."""

    name: str
    nats_pod: str
    client_port: int
    cluster_port: int  # 0 when the config has no cluster block
    gateway_port: int
    monitor_port: int
    node_pods: list[str]
    signalling_port: int
    admin_port: int


@dataclass(frozen=True)
class NodePlan:
    name: str
    region: str
    address: str
    signalling_port: int
    admin_port: int


@dataclass(frozen=True)
class LinkPlan:
    from_region: str
    to_region: str
    listen_host: str
    listen_port: int
    target_host: str
    target_port: int
    one_way_ms: float


@dataclass(frozen=True)
class RegionPlan:
    name: str
    index: int
    host: str
    nats_pod: str
    client_port: int
    cluster_port: int  # 0: no cluster block
    gateway_port: int
    monitor_port: int
    gateway_advertise: str  # host:port nobody listens on
    nodes: list[NodePlan] = field(default_factory=list)
    links: list[LinkPlan] = field(default_factory=list)


@dataclass(frozen=True)
class LabPlan:
    prefix: str
    regions: list[RegionPlan]
    dns_host: str
    dns_port: int
    turn_host: str
    turn_port: int
    port_offset: int = 0

    def endpoints(self, *, with_nodes: bool, with_turn: bool) -> list[tuple[Transport, str, int]]:
        """Every (transport, host, port) the lab binds."""
        endpoints: list[tuple[Transport, str, int]] = [
            ("udp", self.dns_host, self.dns_port),
            ("tcp", self.dns_host, self.dns_port),
        ]
        if with_turn:
            endpoints += [("udp", self.turn_host, self.turn_port)]
            endpoints += [("tcp", self.turn_host, self.turn_port)]
        for region in self.regions:
            for port in (region.client_port, region.gateway_port, region.monitor_port):
                endpoints.append(("tcp", region.host, port))
            if region.cluster_port:
                endpoints.append(("tcp", region.host, region.cluster_port))
            endpoints += [("tcp", link.listen_host, link.listen_port) for link in region.links]
            if with_nodes:
                for node in region.nodes:
                    endpoints.append(("tcp", node.address, node.signalling_port))
                    endpoints.append(("tcp", node.address, node.admin_port))
        return endpoints


def plan_lab(fleet: Fleet, shapes: list[RegionShape], prefix: str, port_offset: int = 0) -> LabPlan:
    """The plan under `prefix`; `port_offset` shifts every port (when the usual ones are taken)."""
    regions = []
    for index, shape in enumerate(shapes):
        r = index + 1
        nodes = [
            NodePlan(
                name=pod,
                region=shape.name,
                address=f"{prefix}.{r}.{10 + j}",
                signalling_port=shape.signalling_port + port_offset,
                admin_port=shape.admin_port + port_offset,
            )
            for j, pod in enumerate(shape.node_pods)
        ]
        links = [
            LinkPlan(
                from_region=shape.name,
                to_region=other.name,
                listen_host=f"{prefix}.{r}.{100 + t + 1}",
                listen_port=other.gateway_port + port_offset,
                target_host=f"{prefix}.{t + 1}.1",
                target_port=other.gateway_port + port_offset,
                one_way_ms=fleet.one_way_ms(shape.name, other.name),
            )
            for t, other in enumerate(shapes)
            if other.name != shape.name
        ]
        gateway_port = shape.gateway_port + port_offset
        regions.append(
            RegionPlan(
                name=shape.name,
                index=index,
                host=f"{prefix}.{r}.1",
                nats_pod=shape.nats_pod,
                client_port=shape.client_port + port_offset,
                cluster_port=shape.cluster_port + port_offset if shape.cluster_port else 0,
                gateway_port=gateway_port,
                monitor_port=shape.monitor_port + port_offset,
                gateway_advertise=f"{prefix}.{r}.250:{gateway_port}",
                nodes=nodes,
                links=links,
            )
        )
    return LabPlan(
        prefix=prefix,
        regions=regions,
        dns_host=f"{prefix}.0.53",
        dns_port=DNS_PORT + port_offset,
        turn_host=f"{prefix}.0.3",
        turn_port=TURN_PORT + port_offset,
        port_offset=port_offset,
    )


def _check_fits(shapes: list[RegionShape]) -> None:
    if len(shapes) > 99:
        raise UsageError("the lab runs at most 99 regions (one 127.x.r.0/24 each)")
    for shape in shapes:
        if len(shape.node_pods) > 80:
            raise UsageError(
                f"region {shape.name}: StatefulSet {shape.node_pods[0].rsplit('-', 1)[0]} has "
                f"{len(shape.node_pods)} replicas; the lab runs at most 80 nodes per region"
            )


def claims_dir() -> Path:
    path = Path(tempfile.gettempdir()) / f"bcastctl-lab-claims-{os.getuid()}"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


def _claim_is_stale(claim: Path) -> bool:
    """A claim is stale when its claimer is gone and its lab has no live process."""
    from bcastctl.model import parse_json
    from bcastctl.targets.lab_state import LabState, state_file

    try:
        data = json.loads(claim.read_text())
    except (OSError, ValueError):
        return True
    if is_alive(int(data.get("claimer_pid", 0)) or -1):
        return False
    try:
        state = parse_json(LabState, state_file(data["state_dir"]).read_text())
    except (OSError, ValueError, KeyError):
        return True
    return not any(is_alive(pid) for pid in state.pids())


def claim_prefix(prefix: str, state_dir: Path) -> bool:
    """Take `prefix` for `state_dir` (exclusive create); True if now ours."""
    claim = claims_dir() / f"{prefix}.claim"
    content = json.dumps({"state_dir": str(state_dir.resolve()), "claimer_pid": os.getpid()})
    for _ in range(2):
        try:
            fd = os.open(claim, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            try:
                owner = json.loads(claim.read_text()).get("state_dir")
            except (OSError, ValueError):
                owner = None
            if owner == str(state_dir.resolve()):
                claim.write_text(content)
                return True
            if not _claim_is_stale(claim):
                return False
            claim.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as file:
            file.write(content)
        return True
    return False


def release_prefix(prefix: str, state_dir: Path) -> None:
    claim = claims_dir() / f"{prefix}.claim"
    try:
        owner = json.loads(claim.read_text()).get("state_dir")
    except (OSError, ValueError):
        return
    if owner == str(state_dir.resolve()):
        claim.unlink(missing_ok=True)


def candidate_prefixes(start: str) -> list[str]:
    second = int(start.split(".")[1])
    return [f"127.{(second - 1 + i) % 254 + 1}" for i in range(PREFIX_ATTEMPTS)]


def choose_plan(
    fleet: Fleet, shapes: list[RegionShape], state_dir: Path, *, with_nodes: bool, with_turn: bool
) -> tuple[LabPlan, list[str]]:
    """Claim the first free prefix from the fleet's; return the plan and skipped prefixes."""
    _check_fits(shapes)
    skipped: list[str] = []
    for port_offset in PORT_OFFSETS:
        for prefix in candidate_prefixes(fleet.lab.loopback_prefix)[: PREFIX_ATTEMPTS // 2]:
            if not claim_prefix(prefix, state_dir):
                skipped.append(f"{prefix} (claimed by another lab)")
                continue
            plan = plan_lab(fleet, shapes, prefix, port_offset)
            if max(port for _, _, port in plan.endpoints(with_nodes=True, with_turn=True)) > 65535:
                release_prefix(prefix, state_dir)
                break
            busy = [
                ep
                for ep in plan.endpoints(with_nodes=with_nodes, with_turn=with_turn)
                if not port_is_free(*ep)
            ]
            if not busy:
                return plan, skipped
            release_prefix(prefix, state_dir)
            transport, host, port = busy[0]
            skipped.append(f"{prefix} ({transport} {host}:{port} in use)")
    raise UsageError(
        f"no free loopback prefix for the lab after {PREFIX_ATTEMPTS} tries "
        f"from {fleet.lab.loopback_prefix}: {'; '.join(skipped[:3])}",
        hint="stop other labs (`bcastctl lab down --state-dir DIR`) or set lab.loopback_prefix",
    )
