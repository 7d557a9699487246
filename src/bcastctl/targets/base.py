"""The Target protocol: where each region's stuff is, for the lab and for real clusters.

Checks and probes are written once against `Target` and run unchanged on the lab
(direct loopback HTTP) and on clusters (through the Kubernetes API: pod proxy or
port-forward). A Target answers:

- which regions exist (`region_names`) and what it can do (`capabilities`:
  "lab" or "kube"; checks declare what they need);
- per region (`region(name)`, may raise UnreachableError): the NATS monitor
  endpoints, the expected nodes with their admin and signalling endpoints, the
  clusterset DNS names that must resolve from inside it, and its TURN address;
- `request(method, endpoint, path)`: one HTTP request to an endpoint, however it
  is reached (`http_get` / `get_json` below are the usual shorthands).

An `Endpoint` is opaque to checks: they print `endpoint.url` and hand the endpoint
back to `request`. The kube Target may fill `pod`/`namespace`/`port` to route the
request through the API server; the lab Target uses `url` directly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from bcastctl.errors import HttpStatusError
from bcastctl.fleet import Fleet
from bcastctl.model import HttpResponse as HttpResponse

Capability = Literal["lab", "kube"]


@dataclass(frozen=True)
class Endpoint:
    """An HTTP endpoint of one region. `url` is what humans read (and the lab dials)."""

    region: str
    url: str  # http://host:port, or a description such as pod://ns/name:port
    pod: str | None = None  # kube: the pod to proxy through
    namespace: str | None = None  # kube: the pod's namespace
    port: int | None = None  # kube: the pod's port


@dataclass(frozen=True)
class NodeEndpoints:
    """One expected broadcaster node: its name as it appears in membership views."""

    name: str
    region: str
    admin: Endpoint | None  # /healthz /readyz /api/cluster /api/diag/*; None: not running
    signalling: Endpoint | None  # /api/pc-config /api/whip /api/whep (public)


@dataclass(frozen=True)
class DnsExpectation:
    """A clusterset name that must resolve from inside a region.

    `addresses` None means any non-empty answer is right (the target cannot know).
    """

    name: str
    of_region: str  # the region the name belongs to
    addresses: tuple[str, ...] | None = None


@dataclass(frozen=True)
class GatewayDial:
    """An address a region's NATS gateway dials to reach a peer: outside MCS the peer's
    node port or load balancer (kube), or the delay link that stands for it (lab); over
    MCS (checked with gateway TLS) the peer's clusterset gateway name."""

    peer: str
    mode: str  # the peer's gateway mode (exposure.py): nodePort, loadBalancer, mcs (external)
    host: str
    port: int

    @property
    def addr(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class TurnEndpoint:
    """The TURN server clients of a region use (STUNner's public address, or lab coturn)."""

    region: str
    host: str | None  # None when there is no TURN server: see `absent_reason`
    port: int = 3478
    transport: Literal["udp", "tcp"] = "udp"
    absent_reason: str | None = None


@dataclass(frozen=True)
class RegionEndpoints:
    name: str
    nats_monitors: tuple[Endpoint, ...]  # one per NATS server of the region
    nodes: tuple[NodeEndpoints, ...]  # the expected node set of the region
    dns_expectations: tuple[DnsExpectation, ...]
    turn: TurnEndpoint
    details: Mapping[str, str] = field(default_factory=dict)  # e.g. kube context, lab pids
    # what this region dials for each peer gateway-reach checks (exposure.reach_dialled_peers)
    gateway_dials: tuple[GatewayDial, ...] = ()


@runtime_checkable
class Target(Protocol):
    """Where each region's stuff is. Implementations: targets/lab.py, targets/kube.py."""

    @property
    def kind(self) -> Capability: ...

    @property
    def fleet(self) -> Fleet: ...

    @property
    def capabilities(self) -> frozenset[str]:
        """What checks may rely on: {"lab"} or {"kube"} (plus anything else it offers)."""
        ...

    @property
    def region_names(self) -> Sequence[str]: ...

    async def region(self, name: str, timeout_s: float) -> RegionEndpoints:
        """The region's endpoints; UnreachableError if the region cannot be reached."""
        ...

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
        """One HTTP request; UnreachableError (naming the URL) on no answer within timeout_s.

        Any HTTP status is returned as a response, not raised.
        """
        ...

    async def close(self) -> None: ...


async def http_get(
    target: Target,
    endpoint: Endpoint,
    path: str,
    params: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
) -> HttpResponse:
    return await target.request("GET", endpoint, path, params=params, timeout_s=timeout_s)


async def get_json(
    target: Target,
    endpoint: Endpoint,
    path: str,
    params: Mapping[str, str] | None = None,
    timeout_s: float = 5.0,
) -> Any:
    """GET and decode JSON; a non-2xx answer is an UnreachableError naming the URL."""
    response = await http_get(target, endpoint, path, params, timeout_s)
    if not 200 <= response.status < 300:
        raise HttpStatusError(response.url, response.status)
    return response.json()


@dataclass(frozen=True)
class EndpointSignalling:
    """A node's signalling endpoint reached through a Target (a `whip.Signalling`)."""

    target: Target
    endpoint: Endpoint

    @property
    def url(self) -> str:
        return self.endpoint.url

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout_s: float = 10.0,
    ) -> HttpResponse:
        return await self.target.request(
            method, self.endpoint, path, body=body, headers=headers, timeout_s=timeout_s
        )

    def follow(self, location: str) -> None:
        """A Target reaches only the endpoints it knows: a redirect is not followed."""
        return None


@dataclass(frozen=True)
class EndpointSource:
    """An endpoint reached through a Target, as a `readers.source.JsonSource`."""

    target: Target
    endpoint: Endpoint
    timeout_s: float = 5.0

    @property
    def url(self) -> str:
        return self.endpoint.url

    async def get_json(self, path: str, params: Mapping[str, str] | None = None) -> Any:
        return await get_json(self.target, self.endpoint, path, params, self.timeout_s)
