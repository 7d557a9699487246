"""/api/diag/dial: a TCP connect from inside the node (is another region's NATS gateway
reachable from here), bounded in input, time and concurrency; bad input is a 400, never a
500. Everything on loopback: a listening socket, a closed port, and a socket whose
accept queue is full (Linux drops further SYNs, so a connect hangs until its deadline).
A cluster or clusterset name is looked up at the node's DNS server (BCAST_DNS_SERVER, the
lab's DNS server here, over real UDP) before the connect, as a pod's resolver would send
it to the cluster DNS."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import pytest
from node_testkit import NatsServer, NodeFactory, free_port, http_json

from bcastctl.lab.dnsd import ZoneResolver

pytestmark = pytest.mark.slow  # starts NATS servers and nodes

HOST = "127.0.0.1"
GATEWAY_NAME = "europe-west9-nats-gateway.broadcaster.svc.clusterset.local"


@pytest.fixture
def listening() -> Iterator[int]:
    with socket.socket() as server:
        server.bind((HOST, free_port()))
        server.listen(16)
        yield server.getsockname()[1]


@pytest.fixture
def full_queue() -> Iterator[int]:
    """A listener that never accepts, its queue filled: a further connect hangs."""
    with socket.socket() as server:
        server.bind((HOST, free_port()))
        server.listen(0)
        port = server.getsockname()[1]
        fillers = []
        for _ in range(3):
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex((HOST, port))
            fillers.append(filler)
        try:
            yield port
        finally:
            for filler in fillers:
                filler.close()


def test_dial_reports_connected_refused_and_bad_input(
    super_cluster: list[NatsServer], start_node: NodeFactory, listening: int
) -> None:
    node = start_node("dial-a", super_cluster[0], "127.0.0.97")
    status, answer = http_json(f"{node.admin}/api/diag/dial?addr={HOST}:{listening}")
    assert status == 200
    assert answer["connected"] is True and answer["error"] is None and answer["ms"] >= 0
    closed = free_port()
    status, answer = http_json(f"{node.admin}/api/diag/dial?addr={HOST}:{closed}")
    assert status == 200 and answer["connected"] is False
    assert "refused" in answer["error"].lower()
    for addr, problem in [
        ("", "addr: required"),
        ("127.0.0.1", "expected host:port"),
        ("127.0.0.1:0", "is not 1-65535"),
        ("127.0.0.1:99999", "is not 1-65535"),
        ("bad host!:7222", "not an IP address or DNS name"),
        ("x" * 400 + ":1", "at most 300"),
    ]:
        status, answer = http_json(f"{node.admin}/api/diag/dial?addr={quote(addr)}")
        assert status == 400 and problem in answer["error"], (addr, answer)
    status, answer = http_json(f"{node.admin}/api/diag/dial?addr={HOST}:1&timeout_ms=60000")
    assert status == 400 and "timeout_ms=60000" in answer["error"]
    status, answer = http_json(f"{node.admin}/api/diag/dial?addr={HOST}:1&tls=https")
    assert status == 400 and "only tls=nats" in answer["error"]
    # tls=nats on a plain listener: connected, and the TLS problem said, not a 500
    status, answer = http_json(
        f"{node.admin}/api/diag/dial?addr={HOST}:{listening}&tls=nats&timeout_ms=500"
    )
    assert status == 200 and answer["connected"] is True and answer["certificate"] is None
    assert answer["tls_error"] == "no TLS handshake within 0.5 s"


def test_dial_gives_up_at_its_deadline_and_caps_concurrent_dials(
    super_cluster: list[NatsServer], start_node: NodeFactory, full_queue: int
) -> None:
    node = start_node("dial-b", super_cluster[0], "127.0.0.98")
    url = f"{node.admin}/api/diag/dial?addr={HOST}:{full_queue}&timeout_ms=2000"
    with ThreadPoolExecutor(12) as pool:
        answers = list(pool.map(lambda _: http_json(url, timeout=10), range(12)))
    statuses = sorted(status for status, _ in answers)
    assert statuses.count(200) <= 8 and 429 in statuses, statuses
    for status, answer in answers:
        if status == 200:
            assert answer == {
                "addr": f"{HOST}:{full_queue}",
                "connected": False,
                "ms": None,
                "error": "no connection within 2 s",
            }
        else:
            assert "dials are already running" in answer["error"]


@pytest.fixture
def dns_server() -> Iterator[str]:
    from dnslib.server import DNSServer

    port = free_port()
    server = DNSServer(ZoneResolver({f"{GATEWAY_NAME}.": [HOST]}), port=port, address=HOST)
    server.start_thread()
    try:
        yield f"{HOST}:{port}"
    finally:
        server.stop()


def test_dial_looks_up_a_clusterset_name_at_the_node_dns_server(
    super_cluster: list[NatsServer], start_node: NodeFactory, listening: int, dns_server: str
) -> None:
    node = start_node("dial-c", super_cluster[0], "127.0.0.99", BCAST_DNS_SERVER=dns_server)
    status, answer = http_json(f"{node.admin}/api/diag/dial?addr={GATEWAY_NAME}:{listening}")
    assert status == 200, answer
    assert answer["connected"] is True and answer["addr"] == f"{GATEWAY_NAME}:{listening}"
    missing = GATEWAY_NAME.replace("europe-west9", "asia-southeast1")
    status, answer = http_json(f"{node.admin}/api/diag/dial?addr={missing}:{listening}")
    assert status == 200 and answer["connected"] is False
    assert answer["error"] == f"{missing} does not resolve: NXDOMAIN"
