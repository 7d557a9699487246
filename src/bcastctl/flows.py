"""The flows a region needs, checked against its NetworkPolicies (a static evaluator).

NetworkPolicy semantics as the Kubernetes docs define them
(kubernetes.io/docs/concepts/services-networking/network-policies/): a pod that no
Ingress policy selects accepts everything; a selected pod accepts what at least one rule
of one selecting policy admits. A rule without `from` admits every source; a `from` peer
is a podSelector (this namespace), a namespaceSelector (any pod of matching namespaces),
both (AND), or an ipBlock (addresses outside the cluster). A rule without `ports` admits
every port; a port entry is a number (with `endPort`, a range) or a container port name,
protocol TCP unless given. Traffic from the pod's own node (the kubelet's probes) is
always admitted, so a probe is only checked to aim at a port its container declares.

Pure: objects in, findings out. `render` runs it on what it is about to write, and
`verify mesh --target kube` on the objects live in each cluster.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from bcastctl.fleet import Fleet

Manifest = dict[str, Any]
Protocol = Literal["TCP", "UDP"]
NAMESPACE_LABEL = "kubernetes.io/metadata.name"  # set by the API server on every namespace


@dataclass(frozen=True)
class Peer:
    """Who opens the flow: a pod (namespace and labels) or an address outside the cluster."""

    description: str
    namespace: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    ip: str | None = None

    @property
    def namespace_labels(self) -> dict[str, str]:
        return {NAMESPACE_LABEL: self.namespace} if self.namespace else {}


@dataclass(frozen=True)
class Flow:
    name: str
    source: Peer
    namespace: str
    target: str  # what the target pods are, for messages ("broadcaster pods")
    target_labels: dict[str, str]
    protocol: Protocol
    first_port: int
    last_port: int
    expect_open: bool = True


@dataclass(frozen=True)
class FlowProblem:
    flow: str
    message: str

    def line(self) -> str:
        return f"{self.flow}: {self.message}"


def _selector_matches(selector: Manifest | None, labels: dict[str, str]) -> bool:
    if selector is None:
        return False
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions") or []:
        key, operator, values = expression["key"], expression["operator"], expression.get("values")
        present = key in labels
        if operator == "In" and not (present and labels[key] in (values or [])):
            return False
        if operator == "NotIn" and present and labels[key] in (values or []):
            return False
        if operator == "Exists" and not present:
            return False
        if operator == "DoesNotExist" and present:
            return False
    return True


def _peer_matches(peer: Manifest, source: Peer, policy_namespace: str) -> bool:
    if "ipBlock" in peer:
        if source.ip is None:
            return False  # pod traffic: ipBlock is meant for addresses outside the cluster
        address = ipaddress.ip_address(source.ip)
        block = peer["ipBlock"]
        if address not in ipaddress.ip_network(block["cidr"], strict=False):
            return False
        return not any(
            address in ipaddress.ip_network(c, strict=False) for c in block.get("except", [])
        )
    if source.namespace is None:
        return False
    pods, namespaces = peer.get("podSelector"), peer.get("namespaceSelector")
    if namespaces is None:
        return source.namespace == policy_namespace and _selector_matches(pods, source.labels)
    if not _selector_matches(namespaces, source.namespace_labels):
        return False
    return pods is None or _selector_matches(pods, source.labels)


def _ports_admitted(
    entries: list[Manifest] | None, protocol: Protocol, named: dict[str, tuple[int, str]]
) -> set[int] | None:
    """Ports of `protocol` a rule admits; None means every port."""
    if not entries:
        return None
    admitted: set[int] = set()
    for entry in entries:
        if entry.get("protocol", "TCP") != protocol:
            continue
        port = entry.get("port")
        if port is None:
            return None
        if isinstance(port, str):
            number, named_protocol = named.get(port, (0, ""))
            if number and named_protocol == protocol:
                admitted.add(number)
            continue
        end_port = entry.get("endPort")
        admitted.update(range(int(port), int(end_port if end_port is not None else port) + 1))
    return admitted


def _selecting(policies: list[Manifest], flow: Flow) -> list[Manifest]:
    found = []
    for policy in policies:
        spec = policy.get("spec", {})
        types = spec.get("policyTypes") or ["Ingress"]
        if (
            policy["metadata"].get("namespace") == flow.namespace
            and "Ingress" in types
            and _selector_matches(spec.get("podSelector", {}), flow.target_labels)
        ):
            found.append(policy)
    return found


def admitted(
    policies: list[Manifest], flow: Flow, named: dict[str, tuple[int, str]]
) -> tuple[set[int], list[str]]:
    """The flow's ports that get through, and the names of the policies that decide."""
    wanted = set(range(flow.first_port, flow.last_port + 1))
    selecting = _selecting(policies, flow)
    if not selecting:
        return wanted, []
    through: set[int] = set()
    for policy in selecting:
        for rule in policy["spec"].get("ingress") or []:
            sources = rule.get("from")
            if sources and not any(
                _peer_matches(peer, flow.source, flow.namespace) for peer in sources
            ):
                continue
            ports = _ports_admitted(rule.get("ports"), flow.protocol, named)
            through |= wanted if ports is None else wanted & ports
    return through, [policy["metadata"]["name"] for policy in selecting]


def _ranges(ports: Iterable[int]) -> str:
    ordered = sorted(ports)
    spans: list[str] = []
    start = previous = ordered[0]
    for port in [*ordered[1:], None]:
        if port is not None and port == previous + 1:
            previous = port
            continue
        spans.append(str(start) if start == previous else f"{start}-{previous}")
        if port is not None:
            start = previous = port
    return ", ".join(spans)


def check_flow(
    policies: list[Manifest], flow: Flow, named: dict[str, tuple[int, str]]
) -> FlowProblem | None:
    through, deciding = admitted(policies, flow, named)
    wanted = set(range(flow.first_port, flow.last_port + 1))
    policy_names = ", ".join(f"NetworkPolicy {name}" for name in deciding)
    if flow.expect_open and through != wanted:
        return FlowProblem(
            flow.name,
            f"{flow.protocol} {_ranges(wanted - through)} of {flow.target} blocked by "
            f"{policy_names} (source: {flow.source.description})",
        )
    if not flow.expect_open and through:
        where = policy_names or "no NetworkPolicy selects them"
        return FlowProblem(
            flow.name,
            f"{flow.protocol} {_ranges(through)} of {flow.target} reachable from "
            f"{flow.source.description} ({where})",
        )
    return None


# Where the flows come from. Addresses are from documentation ranges (RFC 5737).
def _pod(description: str, namespace: str, labels: dict[str, str]) -> Peer:
    return Peer(description, namespace=namespace, labels=labels)


OTHER_REGION = Peer("another region's NATS (outside this cluster)", ip="198.51.100.7")
INTERNET = Peer("the internet", ip="203.0.113.9")
# The API server's pod proxy enters the pod network through konnectivity agents (GKE)
API_PROXY = Peer(
    "the API server's pod proxy (konnectivity agent in kube-system)",
    namespace="kube-system",
    labels={"k8s-app": "konnectivity-agent"},
)
HEALTH_CHECKER = Peer("Google Cloud health checks (35.191.0.0/16)", ip="35.191.7.7")
OTHER_NAMESPACE = Peer("a pod of another namespace", namespace="default", labels={"app": "other"})


@dataclass(frozen=True)
class Workload:
    """A StatefulSet's pods as the flow check sees them."""

    name: str
    labels: dict[str, str]
    ports: dict[str, tuple[int, str]]  # container port name -> (number, protocol)
    pod_spec: Manifest

    @classmethod
    def of(cls, statefulset: Manifest) -> Workload:
        template = statefulset["spec"]["template"]
        ports = {
            port["name"]: (int(port["containerPort"]), str(port.get("protocol", "TCP")))
            for container in template["spec"]["containers"]
            for port in container.get("ports", [])
            if "name" in port
        }
        name = statefulset["metadata"]["name"]
        return cls(name, dict(template["metadata"].get("labels", {})), ports, template["spec"])


def probe_problems(workload: Workload) -> list[FlowProblem]:
    """Kubelet probes come from the pod's node (always admitted): each must aim at a port
    the container declares, or the probe fails whatever the policies say."""
    problems = []
    for container in workload.pod_spec["containers"]:
        declared = {p.get("name") for p in container.get("ports", [])} | {
            p["containerPort"] for p in container.get("ports", [])
        }
        for kind in ("startupProbe", "readinessProbe", "livenessProbe"):
            action = container.get(kind) or {}
            target = (action.get("httpGet") or action.get("tcpSocket") or {}).get("port")
            if target is not None and target not in declared:
                problems.append(
                    FlowProblem(
                        f"kubelet -> {workload.name} {kind}",
                        f"port {target!r} is not a port of container {container['name']}",
                    )
                )
    return problems


def required_flows(fleet: Fleet, region: str, node: Workload, nats: Workload) -> list[Flow]:
    """Every flow a region needs open, and the ones that must stay closed."""
    ns = fleet.namespace
    relay = _pod(
        "STUNner's dataplane pods (TURN relays)",
        ns,
        {
            "app": "stunner",
            "stunner.l7mp.io/related-gateway-name": f"{region}-turn-gateway",
            "stunner.l7mp.io/related-gateway-namespace": ns,
        },
    )
    node_pod = _pod("a broadcaster pod", ns, node.labels)
    nats_pod = _pod("a NATS server of the region", ns, nats.labels)
    ports = fleet.node
    nats_ports = fleet.nats

    def to_node(name: str, source: Peer, protocol: Protocol, first: int, last: int) -> Flow:
        return Flow(name, source, ns, "broadcaster pods", node.labels, protocol, first, last)

    def closed_admin(name: str, source: Peer) -> Flow:
        admin = ports.admin_port
        return Flow(name, source, ns, "broadcaster pods", node.labels, "TCP", admin, admin, False)

    def to_nats(name: str, source: Peer, port: int, expect_open: bool = True) -> Flow:
        return Flow(name, source, ns, "NATS pods", nats.labels, "TCP", port, port, expect_open)

    needed = [
        to_node(
            "clients -> signalling", INTERNET, "TCP", ports.signalling_port, ports.signalling_port
        ),
        to_node("TURN relay -> node media", relay, "UDP", ports.rtc_port_min, ports.rtc_port_max),
        to_node("bcastctl -> node admin", API_PROXY, "TCP", ports.admin_port, ports.admin_port),
        to_nats("other regions -> NATS gateway", OTHER_REGION, nats_ports.gateway_port),
        to_nats("node -> NATS client", node_pod, nats_ports.client_port),
        to_nats("NATS <-> NATS routes", nats_pod, nats_ports.cluster_port),
        to_nats("bcastctl -> NATS monitor", API_PROXY, nats_ports.monitor_port),
        closed_admin("outside the namespace -> node admin (must stay closed)", OTHER_NAMESPACE),
        closed_admin("internet -> node admin (must stay closed)", INTERNET),
        to_nats(
            "internet -> NATS client (must stay closed)", INTERNET, nats_ports.client_port, False
        ),
    ]
    if fleet.signalling is not None:  # the global load balancer's health checks read /readyz
        admin = ports.admin_port
        needed.append(
            to_node("Google health checks -> node admin", HEALTH_CHECKER, "TCP", admin, admin)
        )
    return needed


def region_flow_problems(fleet: Fleet, region: str, objects: list[Manifest]) -> list[FlowProblem]:
    """What blocks a needed flow (or opens a closed one) among a region's objects."""
    policies = [doc for doc in objects if doc["kind"] == "NetworkPolicy"]
    workloads = {
        doc["metadata"]["name"]: Workload.of(doc) for doc in objects if doc["kind"] == "StatefulSet"
    }
    node, nats = workloads.get(f"{region}-broadcaster"), workloads.get(f"{region}-nats")
    if node is None or nats is None:
        missing = f"{region}-broadcaster" if node is None else f"{region}-nats"
        return [FlowProblem(f"{region} flows", f"StatefulSet {missing} not found")]
    problems = []
    for flow in required_flows(fleet, region, node, nats):
        named = node.ports if flow.target_labels == node.labels else nats.ports
        problem = check_flow(policies, flow, named)
        if problem:
            problems.append(problem)
    return problems + probe_problems(node) + probe_problems(nats)
