"""How a region is reached from the other regions: its cloud provider and its NATS gateway's
exposure (part of the fleet file, `regions[].provider` and `regions[].gateway`).

- `mcs` (the default): GKE multi-cluster services; regions on MCS dial each other at the
  gateway Service's clusterset name. A region outside MCS cannot resolve that name, so in
  a fleet that mixes modes an MCS region also names its `external` exposure.
- `nodePort`: the gateway Service is a NodePort; others dial the node addresses given
  (as on peered private VPCs, e.g. DigitalOcean), every address a URL of one gateway.
- `loadBalancer`: the gateway Service is a LoadBalancer (internal unless `public`) with the
  provider's annotations; others dial `address` (the load balancer's reserved IP or DNS name).

`gateway_urls(fleet, dialler, target)` is the one answer to "which URLs does region
`dialler` dial to reach `target`'s gateway": render's NATS config and verify's
reachability check both read it.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Annotated, ClassVar, Final, Literal

from msgspec import Meta

from bcastctl.model import FieldError, StrictModel

if TYPE_CHECKING:
    from bcastctl.fleet import Fleet, Region

Provider = Literal["gke", "aws", "other"]
# Kubernetes' default service-node-port-range (kube-apiserver --service-node-port-range)
NODE_PORT_MIN: Final = 30000
NODE_PORT_MAX: Final = 32767
MAX_NODE_ADDRESSES: Final = 16
_HOST_NAME = re.compile(
    r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$"
)


def host_problem(host: str) -> str | None:
    """Why `host` is neither an IP address nor a DNS name (None when it is one)."""
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if _HOST_NAME.match(host):
        return None
    return f"not an IP address or DNS name: {host!r}"


def _check_hosts(name: str, hosts: list[str]) -> None:
    for host in hosts:
        problem = host_problem(host)
        if problem:
            raise FieldError(name, problem)


# The three exposures are one union tagged by the `mode` key (which `mode` reads back).
class NodePortGateway(StrictModel, tag_field="mode", tag="nodePort"):
    mode: ClassVar[Literal["nodePort"]] = "nodePort"
    node_port: Annotated[int, Meta(ge=NODE_PORT_MIN, le=NODE_PORT_MAX)]
    addresses: Annotated[list[str], Meta(min_length=1, max_length=MAX_NODE_ADDRESSES)]

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(set(self.addresses)) != len(self.addresses):
            raise FieldError("addresses", "an address is given twice")
        _check_hosts("addresses", self.addresses)


class LoadBalancerGateway(StrictModel, tag_field="mode", tag="loadBalancer"):
    mode: ClassVar[Literal["loadBalancer"]] = "loadBalancer"
    address: str
    public: bool = False  # a public address: the gateway crosses a network nobody in the fleet owns
    annotations: Annotated[dict[str, str], Meta(max_length=32)] = {}  # added to the provider's

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_hosts("address", [self.address])


ExternalGateway = NodePortGateway | LoadBalancerGateway


class McsGateway(StrictModel, tag_field="mode", tag="mcs"):
    mode: ClassVar[Literal["mcs"]] = "mcs"
    # how regions outside MCS reach this region (needed when the fleet has any)
    external: ExternalGateway | None = None


GatewayExposure = McsGateway | NodePortGateway | LoadBalancerGateway


def reached_by(
    exposure: McsGateway | NodePortGateway | LoadBalancerGateway,
) -> ExternalGateway | None:
    """The exposure regions outside MCS dial (None: MCS only)."""
    return exposure.external if isinstance(exposure, McsGateway) else exposure


def gateway_hosts(fleet: Fleet, dialler: Region, target: Region) -> list[tuple[str, int]]:
    """(host, port) pairs `dialler` dials to reach `target`'s NATS gateway."""
    port = fleet.nats.gateway_port
    if target.gateway.mode == "mcs" and dialler.gateway.mode == "mcs":
        return [(fleet.clusterset_names(target.name)["nats-gateway"], port)]
    hosts = external_hosts(fleet, target)
    if not hosts:  # refused by the fleet's validation
        raise ValueError(f"{target.name} is reachable over MCS only; {dialler.name} is not on MCS")
    return hosts


def external_hosts(fleet: Fleet, region: Region) -> list[tuple[str, int]]:
    """(host, port) pairs of the region's gateway outside MCS (none: MCS only)."""
    external = reached_by(region.gateway)
    if external is None:
        return []
    if isinstance(external, NodePortGateway):
        return [(address, external.node_port) for address in external.addresses]
    return [(external.address, fleet.nats.gateway_port)]


def on_mcs(region: Region) -> bool:
    """Whether the region is joined by multi-cluster services (has ServiceExports)."""
    return region.gateway.mode == "mcs"


def mode_label(region: Region) -> str:
    """How the region is reached, in words: `mcs`, `nodePort`, `loadBalancer`, or
    `mcs + loadBalancer` for an MCS region with an external exposure."""
    exposure = region.gateway
    if isinstance(exposure, McsGateway) and exposure.external is not None:
        return f"mcs + {exposure.external.mode}"
    return exposure.mode


def mcs_peers(fleet: Fleet, region: str) -> list[str]:
    """The other regions `region` reaches over MCS (none when it is not on MCS)."""
    if fleet.region(region).gateway.mode != "mcs":
        return []
    return [r.name for r in fleet.regions if r.name != region and r.gateway.mode == "mcs"]


def peers_outside_mcs(fleet: Fleet, region: str) -> list[str]:
    """The other regions `region` reaches at an external address (node port, load balancer)."""
    over_mcs = set(mcs_peers(fleet, region))
    return [name for name in fleet.region_names if name != region and name not in over_mcs]


def reach_dialled_peers(fleet: Fleet, region: str) -> list[str]:
    """The peers whose gateway gateway-reach dials from inside `region`: those outside MCS
    (mcs-dns covers how an MCS peer is found), and with gateway TLS every peer, MCS ones
    too, since only a handshake shows the certificate a peer's gateway presents."""
    if fleet.nats.gateway_tls is not None:
        return [name for name in fleet.region_names if name != region]
    return peers_outside_mcs(fleet, region)


def gateway_urls(fleet: Fleet, dialler: Region, target: Region) -> list[str]:
    """The NATS gateway URLs `dialler` dials to reach `target`."""
    return [
        f"nats://[{host}]:{port}" if ":" in host else f"nats://{host}:{port}"
        for host, port in gateway_hosts(fleet, dialler, target)
    ]


def exposure_problem(fleet: Fleet) -> str | None:
    """The first region whose exposure cannot work in this fleet (key path + reason)."""
    outside_mcs = [region.name for region in fleet.regions if region.gateway.mode != "mcs"]
    for index, region in enumerate(fleet.regions):
        exposure = region.gateway
        if exposure.mode == "mcs" and region.provider != "gke":
            return (
                f"regions[{index}].gateway.mode: mcs needs GKE multi-cluster services "
                f"(provider is {region.provider}); use nodePort or loadBalancer"
            )
        if isinstance(exposure, McsGateway) and outside_mcs and exposure.external is None:
            return (
                f"regions[{index}].gateway.external: required: {', '.join(outside_mcs)} "
                "cannot resolve clusterset names and must reach this region another way"
            )
    for index, region in enumerate(fleet.regions):
        external = reached_by(region.gateway)
        public = isinstance(external, LoadBalancerGateway) and external.public
        if public and fleet.nats.gateway_tls is None:
            key = "gateway" if region.gateway.mode != "mcs" else "gateway.external"
            return (
                f"regions[{index}].{key}.public: a gateway on a public address crosses a "
                "network nobody in the fleet owns; set nats.gateway_tls (mutual TLS)"
            )
    if outside_mcs and fleet.signalling is not None:
        return (
            "signalling: the multi-cluster Gateway reaches MCS regions only; "
            f"{', '.join(outside_mcs)} is not on MCS"
        )
    return None
