"""Bounded work on the node's two ports (issue 12, point 6): stalled uploads are released,
/api/diag/rtt is bounded in time and concurrency and stops when its client leaves,
a client that leaves is one log line, OPTIONS answers only real paths, and a node with
the wrong cluster secret says it is not ready (the in-process cases: test_node_http_edge).
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import aiohttp
import pytest
from http_kit import raw_request
from node_testkit import NatsServer, NodeFactory, http_json, wait_for

from bcastctl.adapters.nats_bus import BusMessage, NatsBus
from bcastctl.node.settings import NodeSettings
from bcastctl.protocol import rtt_subject

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab
BODY_READ_TIMEOUT_S = NodeSettings.body_deadline_s.default


async def test_a_stalled_upload_is_released_with_408(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    node = start_node("bnd-body", super_cluster[0], "127.0.0.76")
    started = time.monotonic()
    status, response = await raw_request(
        node.signalling,
        b"POST /api/whep?stream=x HTTP/1.1\r\nHost: n\r\nContent-Type: application/sdp\r\n"
        b"Content-Length: 2000\r\n\r\nv=0\r\n",
        wait_s=BODY_READ_TIMEOUT_S + 10,
    )
    assert status == 408, response
    assert b"request body not received within 5 s" in response
    assert b"Connection: close" in response
    assert time.monotonic() - started >= BODY_READ_TIMEOUT_S - 0.5


async def test_a_client_that_leaves_is_one_log_line(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    node = start_node("bnd-left", super_cluster[0], "127.0.0.77")
    parts = urlsplit(node.signalling)
    _, writer = await asyncio.open_connection(parts.hostname, parts.port)
    writer.write(
        b"POST /api/whep?stream=x HTTP/1.1\r\nHost: n\r\nContent-Type: application/sdp\r\n"
        b"Content-Length: 1000\r\n\r\nv=0\r\n"
    )
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    await writer.wait_closed()
    wait_for("the node to log the client leaving", lambda: "the client left" in node.log())
    log = node.log()
    assert "POST /api/whep: the client left (Connection lost)" in log
    assert "Traceback" not in log and "Error handling request" not in log


async def test_a_request_aiohttp_cannot_parse_is_one_log_line(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    node = start_node("bnd-parse", super_cluster[0], "127.0.0.84")
    for request in (
        b"GET /api/pc-config?x=\xd9\xa1 HTTP/1.1\r\nHost: n\r\nConnection: close\r\n\r\n",
        b"GET /api/pc-config?x=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: n\r\n\r\n",
    ):
        status, _ = await raw_request(node.signalling, request)
        assert status == 400
    wait_for("the two log lines", lambda: node.log().count("Error handling request") == 2)
    log = node.log()
    assert "InvalidURLError" in log and "LineTooLong" in log and "Traceback" not in log


async def test_options_answers_only_real_paths(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    node = start_node("bnd-opt", super_cluster[0], "127.0.0.78")
    ask = b"OPTIONS %s HTTP/1.1\r\nHost: n\r\nOrigin: http://p.example\r\nConnection: close\r\n\r\n"
    status, response = await raw_request(node.signalling, ask % b"/nothing/here")
    assert status == 404 and b"Access-Control-Allow-Origin: *" in response, response
    for path in (b"/api/whip?stream=x", b"/api/whep", b"/api/resource/abc"):
        status, response = await raw_request(node.signalling, ask % path)
        assert status == 204 and b"Access-Control-Allow-Methods" in response, (path, response)


async def test_rtt_is_bounded_and_stops_when_its_client_leaves(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    node = start_node("bnd-rtt", super_cluster[0], "127.0.0.79")
    wait_for("NATS connected", lambda: node.cluster()["nats_connected"])
    status, problem = http_json(node.admin + "/api/diag/rtt?peer=" + "p" * 4100)
    assert status == 400 and "not a node name" in problem["error"]
    status, problem = http_json(node.admin + "/api/diag/rtt?peer=ghost&n=1000&timeout_ms=30000")
    assert status == 400 and "the limit is 60 s" in problem["error"]
    # a listener on the peer's echo subject counts the requests the node sends
    bus = await NatsBus.connect([super_cluster[0].url], "rtt-listener")
    seen: list[float] = []

    async def count(message: BusMessage) -> None:
        seen.append(time.monotonic())

    await bus.subscribe(rtt_subject("testfleet", "ghost"), count)
    await bus.flush()
    slow = node.admin + "/api/diag/rtt?peer=ghost&n=500&timeout_ms=10&interval_ms=100"
    try:
        async with aiohttp.ClientSession() as http:
            running = [asyncio.create_task(http.get(slow)) for _ in range(4)]
            await asyncio.sleep(1.0)
            async with http.get(slow) as response:
                assert response.status == 429
                assert "4 RTT measurements are already running" in (await response.json())["error"]
            for task in running:
                task.cancel()  # the clients leave
            await asyncio.gather(*running, return_exceptions=True)
        left_at = time.monotonic()
        await asyncio.sleep(1.5)
        after = [t for t in seen if t > left_at + 0.3]
        assert len(seen) > 10 and after == [], f"{len(after)} requests after the clients left"
        status, samples = http_json(node.admin + "/api/diag/rtt?peer=ghost&n=2&timeout_ms=50")
        # the slots are free again (200, not 429); the listener never replies: both lost
        assert status == 200 and samples["lost"] == 2
    finally:
        await bus.close()


def test_a_node_with_the_wrong_cluster_secret_is_not_ready(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    r1, r2 = super_cluster
    a = start_node("sec-a", r1, "127.0.0.81")
    b = start_node("sec-b", r2, "127.0.0.82")
    stray = start_node("sec-stray", r2, "127.0.0.83", BCAST_CLUSTER_SECRET="not-the-fleet-one")
    wait_for("a and b to meet", lambda: "sec-b" in a.member_names())
    wait_for(
        "the stray to see the others' beats refused",
        lambda: len(stray.cluster()["rejected"]) >= 2,
    )
    time.sleep(2.5)  # past one peer-timeout window: the latch that makes a lone node ready
    status, body = http_json(stray.admin + "/readyz")
    assert status == 503, body
    assert "fails the heartbeat signature check" in body["reason"]
    assert "BCAST_CLUSTER_SECRET" in body["reason"]
    for node in (a, b):  # the good nodes see the stray refused, and stay ready
        assert http_json(node.admin + "/readyz")[0] == 200
    assert stray.metric("ready") == 0
