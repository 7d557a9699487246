"""Builders for the checks' verdict functions: node views and NATS server links as the
node's /api/cluster and nats-server's monitor would give them (no lab, no server)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from bcastctl.checks import membership, nats_gateways, stream_registry
from bcastctl.checks.base import CheckResult
from bcastctl.checks.views import NodeView
from bcastctl.protocol import ClusterView, RegistryEntry
from bcastctl.readers.nats import ServerLinks, judge_pair
from bcastctl.targets.base import Endpoint, NodeEndpoints


def node(name: str, region: str) -> NodeEndpoints:
    admin = Endpoint(region, f"http://{name}.test:9090")
    return NodeEndpoints(name, region, admin, Endpoint(region, f"http://{name}.test:8080"))


def cluster_view(
    name: str,
    region: str,
    members: Mapping[str, str],
    rejected: Sequence[str] = (),
    registry: Mapping[str, tuple[str, str]] | None = None,
    nats_connected: bool = True,
) -> ClusterView:
    """`members`: node -> region it sees; `registry`: stream -> (holder, holder region)."""
    return {
        "node": {"name": name, "region": region, "address": "127.0.0.1", "lat": 0.0,
                 "lon": 0.0, "version": "test"},
        "nats_connected": nats_connected,
        "members": [
            {"name": m, "region": r, "address": "127.0.0.1", "sessions": 0, "max_sessions": 100,
             "cpu": 0.0, "last_seen_ms": 100.0}
            for m, r in members.items()
        ],
        "rejected": [
            {"name": peer, "region": "?", "reason": "bad signature (cluster secret mismatch)",
             "count": 3}
            for peer in rejected
        ],
        "registry": {
            stream: RegistryEntry(node=holder, region=at)
            for stream, (holder, at) in (registry or {}).items()
        },
    }  # fmt: skip


def view(
    name: str,
    region: str,
    members: Mapping[str, str],
    rejected: Sequence[str] = (),
    registry: Mapping[str, tuple[str, str]] | None = None,
    nats_connected: bool = True,
) -> NodeView:
    cluster = cluster_view(name, region, members, rejected, registry, nats_connected)
    return NodeView(node(name, region), cluster)


def silent(name: str, region: str) -> NodeView:
    return NodeView(node(name, region), None, "http://x/api/cluster: connection refused")


def members_result(
    name: str,
    region: str,
    expected: Mapping[str, str],
    sees: Sequence[str] | None = None,
    rejected: Sequence[str] = (),
) -> CheckResult:
    """membership's verdict for node `name` that sees `sees` (default: everyone expected)."""
    seen = [n for n in expected if n != name] if sees is None else list(sees)
    members = {n: expected.get(n, "elsewhere") for n in seen}
    return membership.judge_node(
        membership.NAME, view(name, region, members, rejected), dict(expected), set()
    )


def silent_result(name: str, region: str, expected: Mapping[str, str]) -> CheckResult:
    return membership.judge_node(membership.NAME, silent(name, region), dict(expected), set())


def registry_result(
    name: str, region: str, registry: Mapping[str, tuple[str, str]], majority_of: Sequence[NodeView]
) -> CheckResult:
    views = [*majority_of, view(name, region, {}, registry=registry)]
    majority = stream_registry.majority_holders(views)
    return stream_registry.judge_node(stream_registry.NAME, views[-1], majority)


def server(
    region: str,
    outbound: Mapping[str, float | None],
    inbound: Sequence[str],
    configured: Sequence[str],
    monitor: str = "http://nats.test:8222",
) -> ServerLinks:
    return ServerLinks(region, dict(outbound), frozenset(inbound), monitor, frozenset(configured))


def link_result(region: str, peer: str, up: bool, rtt_ms: float = 1.0) -> CheckResult:
    """nats-gateways' verdict for region->peer over one server: connected both ways or cut."""
    links = server(region, {peer: rtt_ms} if up else {}, [peer] if up else [], [peer])
    return nats_gateways.pair_result(nats_gateways.NAME, judge_pair(region, peer, [links]))
