"""/api/diag/resolve: DNS from inside the node over real UDP, cluster domains only; /metrics."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from dnslib import QTYPE, RCODE, RR, A
from dnslib.server import BaseResolver, DNSServer
from node_testkit import NatsServer, NodeFactory, free_port, http_json, http_text

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab

ZONE = {"us-east5-nats-gateway.broadcaster.svc.clusterset.local.": ["10.1.0.7", "10.1.0.8"]}


class ZoneResolver(BaseResolver):  # type: ignore[misc]
    def resolve(self, request: Any, handler: Any) -> Any:
        reply = request.reply()
        name = str(request.q.qname)
        if name in ZONE and request.q.qtype == QTYPE.A:
            for address in ZONE[name]:
                reply.add_answer(RR(name, QTYPE.A, rdata=A(address), ttl=5))
        elif name not in ZONE:
            reply.header.rcode = RCODE.NXDOMAIN
        return reply


@pytest.fixture
def dns_server() -> Iterator[str]:
    port = free_port()
    server = DNSServer(ZoneResolver(), port=port, address="127.0.0.1")
    server.start_thread()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop()


def test_resolve_answers_cluster_names_and_refuses_others(
    super_cluster: list[NatsServer], start_node: NodeFactory, dns_server: str
) -> None:
    node = start_node("dns-a", super_cluster[0], "127.0.0.95", BCAST_DNS_SERVER=dns_server)
    name = "us-east5-nats-gateway.broadcaster.svc.clusterset.local"
    status, answer = http_json(f"{node.admin}/api/diag/resolve?name={name}")
    assert status == 200
    assert answer == {"name": name, "addresses": ["10.1.0.7", "10.1.0.8"], "error": None}
    missing = "asia-nats-gateway.broadcaster.svc.clusterset.local"
    status, answer = http_json(f"{node.admin}/api/diag/resolve?name={missing}")
    assert status == 200 and answer["addresses"] == [] and answer["error"] == "NXDOMAIN"
    status, answer = http_json(f"{node.admin}/api/diag/resolve?name=example.com")
    assert status == 400 and "svc.cluster.local or svc.clusterset.local" in answer["error"]
    status, answer = http_json(f"{node.admin}/api/diag/resolve")
    assert status == 400 and "name: required" in answer["error"]


def test_metrics_are_prometheus_text(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    node = start_node("met-a", super_cluster[0], "127.0.0.96")
    text = http_text(node.admin + "/metrics")
    for name in (
        "sessions",
        "viewers",
        "members",
        "relay_subscriptions",
        "frames_forwarded_total",
        "bytes_forwarded_total",
        "rejected_heartbeats_total",
        "passthrough_tracks_total",
        "fallback_tracks_total",
    ):
        assert f"# TYPE bcast_node_{name} " in text and f"\nbcast_node_{name} " in text
