"""A node outlives its NATS server: while NATS is gone /healthz says so (and the node stays
alive), /readyz and the metrics follow, and once NATS is back the node is too."""

from __future__ import annotations

from pathlib import Path

import pytest
from node_testkit import NatsServer, NodeFactory, http_json, stop_process, wait_for

from nats_testkit import free_port

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab


def nats_connected(node_admin: str) -> bool:
    status, body = http_json(node_admin + "/healthz")
    assert status == 200, body  # alive either way
    return bool(body["nats_connected"])


def test_node_reconnects_after_its_nats_server_restarts(
    tmp_path: Path, start_node: NodeFactory
) -> None:
    server = NatsServer("r9", free_port(), free_port(), free_port())
    server.start(tmp_path, [])
    try:
        a = start_node("rs-a", server, "127.0.2.21", BCAST_EXPECTED_NODES="2")
        start_node("rs-b", server, "127.0.2.22", BCAST_EXPECTED_NODES="2")
        wait_for("a sees b", lambda: "rs-b" in a.member_names())
        assert nats_connected(a.admin)
        assert server.process is not None
        stop_process(server.process)
        wait_for("a notices NATS is gone", lambda: not nats_connected(a.admin), 10)
        assert a.metric("nats_connected") == 0
        status, body = http_json(a.admin + "/readyz")
        assert status == 503 and "not connected to NATS" in body["reason"]
        wait_for("b leaves a's view", lambda: "rs-b" not in a.member_names(), 10)
        server.start(tmp_path, [])  # same ports
        wait_for("a back on NATS", lambda: nats_connected(a.admin), 20)
        wait_for("a sees b again", lambda: "rs-b" in a.member_names(), 10)
        assert a.metric("nats_connected") == 1
        assert http_json(a.admin + "/readyz")[0] == 200
    finally:
        if server.process is not None:
            stop_process(server.process)
