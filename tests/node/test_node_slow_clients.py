"""Slow clients on real sockets: headers or a body sent a byte at a time (slowloris) are cut
at their deadline, quick clients are served meanwhile, and the connection count is capped.

aiohttp itself (aiohttp/web_protocol.py, RequestHandler, 3.14) bounds header sizes
(max_line_size / max_field_size 8190, max_headers 128) but in time only by
`keepalive_timeout` (3630 s by default), which bytes arriving do not extend: without the
node's header deadline (bcastctl/adapters/http_server.py) a client trickling its headers
held a connection for an hour, and nothing capped the connections.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from urllib.parse import urlsplit

import aiohttp
import pytest
from node_testkit import NatsServer, NodeFactory, NodeProcess

from slow_client_kit import status_of, trickle

pytestmark = pytest.mark.slow  # starts NATS servers and nodes

SLOW_HEAD = b"GET /api/pc-config HTTP/1.1\r\nHost: n\r\nX-Slow: " + b"a" * 200
SLOW_BODY_HEAD = (
    b"POST /api/whep?stream=x HTTP/1.1\r\nHost: n\r\nContent-Type: application/sdp\r\n"
    b"Content-Length: 2000\r\n\r\n"
)


QUICK_ADDRESS = "127.0.0.88"  # the quick client's source address (the slow ones': 127.0.0.1)


async def quick_gets(url: str, until: asyncio.Event) -> list[int]:
    """GET on a new connection every 50 ms until `until`; the statuses (0: no answer)."""
    statuses: list[int] = []
    connector = aiohttp.TCPConnector(force_close=True, local_addr=(QUICK_ADDRESS, 0))
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        while not until.is_set():
            try:
                async with http.get(url) as response:
                    await response.read()
                    statuses.append(response.status)
            except (aiohttp.ClientError, TimeoutError):
                statuses.append(0)
            await asyncio.sleep(0.05)
    return statuses


async def test_slow_header_clients_are_cut_while_quick_ones_are_served(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    """Three times as many slowloris clients (from one address) as the connection cap: each
    is closed with a 408 at the header deadline or sooner (evicted to make room for a quick
    client), or refused (503, or closed unanswered when as many refused ones still wait to
    read theirs) while they hold every slot, never held longer; every quick GET
    from another address meanwhile is a 200 (no refusal, no 5xx)."""
    node = start_node(
        "slow-hdr",
        super_cluster[0],
        "127.0.0.85",
        BCAST_HEADER_DEADLINE="1.5s",
        BCAST_MAX_CONNECTIONS="20",
    )
    done = asyncio.Event()
    slow = [asyncio.create_task(trickle(node.signalling, SLOW_HEAD, 0.25)) for _ in range(60)]
    await asyncio.sleep(0.3)  # they hold every slot (a newcomer evicts the longest waiting)
    quick = asyncio.create_task(quick_gets(node.signalling + "/api/pc-config", done))
    results = await asyncio.gather(*slow)
    done.set()
    statuses = await quick
    assert len(statuses) > 10 and set(statuses) == {200}, statuses
    outcomes = Counter(status_of(result.answer) for result in results)
    # beyond the cap: 503, and without an answer once as many refused ones still linger
    assert set(outcomes) <= {408, 503, 0} and outcomes[408] >= 20, outcomes
    for result in results:
        assert result.held_s < 1.5 + 1.0, f"a slow client held its connection {result.held_s}s"
    timed_out = node.metric("http_header_timeouts_total")
    evicted = node.metric("http_connections_evicted_total")
    refused = node.metric("http_connections_refused_total")
    assert timed_out >= 1 and evicted >= 1, (timed_out, evicted)
    assert timed_out + evicted == outcomes[408] and refused == outcomes[503] + outcomes[0]
    # an attack is a summary line every 10 s in the node's log, not a line per connection
    assert 1 <= node.log().count("closed at the header deadline") <= 2
    _no_traceback(node)


async def test_slow_bodies_are_cut_at_the_body_deadline_and_the_cap_refuses_beyond(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    """Bodies trickled a byte every 200 ms: 408 at the body deadline (the whole body's, not
    per read), the connection closed one more deadline later at most. While every connection
    has such a request in progress, one more connection is answered 503 with Retry-After
    (nothing can be evicted); once they are cut, it is served again."""
    node = start_node(
        "slow-body",
        super_cluster[0],
        "127.0.0.86",
        BCAST_BODY_DEADLINE="2s",
        BCAST_MAX_CONNECTIONS="4",
    )
    slow = [
        asyncio.create_task(trickle(node.signalling, b"v" * 2000, 0.2, at_once=SLOW_BODY_HEAD))
        for _ in range(4)
    ]
    await asyncio.sleep(0.8)  # the four POSTs' headers are in: their handlers read the bodies
    async with aiohttp.ClientSession() as http:
        async with http.get(node.signalling + "/api/pc-config") as response:
            assert response.status == 503
            assert response.headers["Retry-After"] == "1"
            assert "retry in a moment" in (await response.json())["error"]
        results = await asyncio.gather(*slow)
        for result in results:
            assert status_of(result.answer) == 408, result.answer[:200]
            assert b"request body not received within 2 s" in result.answer
            # the 408 leaves at the deadline; aiohttp then drains what is still coming for
            # its lingering_time (set to the body deadline) before it closes
            assert result.held_s < 2 * 2 + 1.0, result.held_s
        async with http.get(node.signalling + "/api/pc-config") as response:
            assert response.status == 200
    assert node.metric("http_connections_refused_total") == 1
    _no_traceback(node)


async def test_an_idle_keep_alive_connection_is_not_cut_at_the_header_deadline(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    """A load balancer keeps idle connections to its backends (Google's for 600 s) and
    reuses them: the header deadline times a request's headers, not the quiet between
    requests."""
    node = start_node("slow-idle", super_cluster[0], "127.0.0.87", BCAST_HEADER_DEADLINE="1s")
    parts = urlsplit(node.signalling)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        for pause_s in (0.0, 2.5):  # the second request on the same connection, after a pause
            await asyncio.sleep(pause_s)
            writer.write(b"GET /api/pc-config HTTP/1.1\r\nHost: n\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200 "), head
            length = next(
                int(line.split(b":")[1]) for line in head.split(b"\r\n") if b"Length" in line
            )
            await asyncio.wait_for(reader.readexactly(length), 5)
    finally:
        writer.close()
    assert node.metric("http_header_timeouts_total") == 0


def _no_traceback(node: NodeProcess) -> None:
    log = node.log()
    assert "Traceback" not in log and "Error handling request" not in log
