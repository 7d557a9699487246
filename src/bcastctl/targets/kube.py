"""The kube Target: each region's stuff found through its cluster's Kubernetes API.

Per region (one KubeClient each, from the fleet's ClusterRef or --context/--kubeconfig):
the broadcaster pods and NATS pods by label, the expected node set from the fleet
(`<region>-broadcaster-<i>`, the pod names the node uses as its name), the clusterset
DNS names of every other region, and the TURN address from the STUNner Gateway's
status. Node admin and NATS monitoring HTTP is reached through the API server's pod
proxy, so nothing but the Kubernetes API has to be reachable from where bcastctl runs.
Kube-only checks use `await kube_client(region)` for the objects themselves.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Mapping, Sequence

from bcastctl.adapters.kube import KubeClient, Manifest, connect
from bcastctl.errors import UnreachableError
from bcastctl.exposure import gateway_hosts, mcs_peers, mode_label, reach_dialled_peers
from bcastctl.fleet import Fleet
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


def selector(app: str, region: str) -> str:
    return f"app.kubernetes.io/name={app},bcastctl.io/region={region}"


def pod_running(pod: Manifest) -> bool:
    status = pod.get("status", {})
    return status.get("phase") == "Running" and not pod["metadata"].get("deletionTimestamp")


def gateway_address(gateway: Manifest | None) -> str | None:
    addresses = (gateway or {}).get("status", {}).get("addresses") or []
    values = [a.get("value") for a in addresses if a.get("value")]
    return str(values[0]) if values else None


def gateway_dials(fleet: Fleet, region: str) -> tuple[GatewayDial, ...]:
    """The addresses `region`'s gateway dials for each peer gateway-reach checks
    (exposure.reach_dialled_peers): node ports, load balancers, clusterset names."""
    dialler = fleet.region(region)
    dials: list[GatewayDial] = []
    for name in reach_dialled_peers(fleet, region):
        peer = fleet.region(name)
        for host, port in gateway_hosts(fleet, dialler, peer):
            dials.append(GatewayDial(name, mode_label(peer), host, port))
    return tuple(dials)


class KubeTarget:
    """`verify mesh` on clusters, and deploy's health gate."""

    def __init__(
        self,
        fleet: Fleet,
        clients: Mapping[str, KubeClient] | None = None,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        timeout_s: float = 10.0,
        owns_clients: bool = False,
    ) -> None:
        self._fleet = fleet
        self._clients = dict(clients or {})
        self._kubeconfig = kubeconfig
        self._context = context
        self._timeout_s = timeout_s
        self._owns = owns_clients
        self._lock = asyncio.Lock()

    @classmethod
    def connect(
        cls,
        fleet: Fleet,
        *,
        kubeconfig: str | None = None,
        context: str | None = None,
        timeout_s: float = 10.0,
    ) -> KubeTarget:
        """A target whose cluster clients are built on first use, per region."""
        return cls(
            fleet, kubeconfig=kubeconfig, context=context, timeout_s=timeout_s, owns_clients=True
        )

    @property
    def kind(self) -> Capability:
        return "kube"

    @property
    def fleet(self) -> Fleet:
        return self._fleet

    @property
    def capabilities(self) -> frozenset[str]:
        return frozenset({"kube"})

    @property
    def region_names(self) -> Sequence[str]:
        return self._fleet.region_names

    async def kube_client(self, region: str) -> KubeClient:
        """The region's API client (ConfigError/UnreachableError if it cannot be built)."""
        async with self._lock:
            if region not in self._clients:
                self._clients[region] = await connect(
                    region,
                    self._fleet.region(region).cluster,
                    kubeconfig=self._kubeconfig,
                    context=self._context,
                    timeout_s=self._timeout_s,
                )
            return self._clients[region]

    async def gateway_ca(self, region: str) -> str | None:
        """ca.crt of the region's gateway TLS Secret (None: no gateway TLS, or no Secret)."""
        tls = self._fleet.nats.gateway_tls
        if tls is None:
            return None
        client = await self.kube_client(region)
        secret = await client.get("v1", "Secret", tls.secret, self._fleet.namespace)
        encoded = ((secret or {}).get("data") or {}).get("ca.crt")
        if not isinstance(encoded, str):
            return None
        try:
            return base64.b64decode(encoded, validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return None

    async def region(self, name: str, timeout_s: float) -> RegionEndpoints:
        client = await self.kube_client(name)
        namespace = self._fleet.namespace
        async with asyncio.timeout(timeout_s):
            nodes, nats, gateway = await asyncio.gather(
                client.list_objects("v1", "Pod", namespace, selector("broadcaster", name)),
                client.list_objects("v1", "Pod", namespace, selector("nats", name)),
                client.get(
                    "gateway.networking.k8s.io/v1", "Gateway", f"{name}-turn-gateway", namespace
                ),
            )
        return RegionEndpoints(
            name=name,
            nats_monitors=tuple(
                self._endpoint(name, pod["metadata"]["name"], self._fleet.nats.monitor_port)
                for pod in sorted(nats, key=lambda p: p["metadata"]["name"])
                if pod_running(pod)
            ),
            nodes=self._nodes(name, {p["metadata"]["name"]: p for p in nodes}),
            dns_expectations=self._dns(name),
            turn=self._turn(name, gateway),
            details={"api": client.host, "client": client.name},
            gateway_dials=gateway_dials(self._fleet, name),
        )

    def _endpoint(self, region: str, pod: str, port: int) -> Endpoint:
        namespace = self._fleet.namespace
        return Endpoint(region, f"pod://{namespace}/{pod}:{port}", pod, namespace, port)

    def _nodes(self, region: str, pods: dict[str, Manifest]) -> tuple[NodeEndpoints, ...]:
        replicas = self._fleet.region(region).replicas
        nodes: list[NodeEndpoints] = []
        for index in range(replicas):
            name = f"{region}-broadcaster-{index}"
            running = name in pods and pod_running(pods[name])
            admin = self._endpoint(region, name, self._fleet.node.admin_port) if running else None
            signalling = (
                self._endpoint(region, name, self._fleet.node.signalling_port) if running else None
            )
            nodes.append(NodeEndpoints(name, region, admin, signalling))
        return tuple(nodes)

    def _dns(self, region: str) -> tuple[DnsExpectation, ...]:
        return tuple(
            DnsExpectation(fqdn, other)
            for other in mcs_peers(self._fleet, region)
            for fqdn in self._fleet.clusterset_names(other).values()
        )

    def _turn(self, region: str, gateway: Manifest | None) -> TurnEndpoint:
        udp = [l for l in self._fleet.stunner.listeners if l.protocol == "TURN-UDP"]  # noqa: E741
        port = udp[0].port if udp else 3478
        address = gateway_address(gateway) or self._fleet.region(region).turn_address
        if address is None:
            reason = "the STUNner Gateway has no address yet" if gateway else "no STUNner Gateway"
            return TurnEndpoint(region, None, port, absent_reason=reason)
        return TurnEndpoint(region, address, port)

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
        if endpoint.pod is None or endpoint.namespace is None or endpoint.port is None:
            raise UnreachableError(f"{endpoint.url}: not a pod endpoint of the kube target")
        client = await self.kube_client(endpoint.region)
        url = endpoint.url.rstrip("/") + path
        try:
            async with asyncio.timeout(timeout_s):
                status, data = await client.proxy(
                    method,
                    endpoint.namespace,
                    endpoint.pod,
                    endpoint.port,
                    path,
                    query=list((params or {}).items()),
                    body=body,
                    headers=dict(headers or {}),
                )
        except TimeoutError as e:
            raise UnreachableError(f"{url}: no answer within {timeout_s:g} s") from e
        return HttpResponse(status, data, url)

    async def close(self) -> None:
        if self._owns:
            for client in self._clients.values():
                client.close()
