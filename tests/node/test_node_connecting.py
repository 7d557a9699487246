"""Sessions that never connect (issue 12, point 4): offers without ICE candidates used to
hold a node's session slots for minutes ("503 node full" for everyone) and keep a remote
stream crossing the WAN. Now a session must connect (ICE + DTLS) within the connect
deadline or it is closed and counted, and one client cannot fill the connecting slots.

A WebRTC offer without candidates and without `a=end-of-candidates` is legal: the
answerer waits for trickled candidates (RFC 8838 section 4) that here never come.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import aiohttp
import pytest
from http_kit import never_connecting_offer
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, wait_for

from bcastctl.whip.client import publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab

DEADLINE_S = 2.0
FLOOD_ADDRESS = "127.0.0.60"  # the flooding client's source address


async def flood(url: str, body: str, count: int, parallel: int = 20) -> Counter[int]:
    """`count` WHEP offers from FLOOD_ADDRESS, `parallel` at a time; statuses counted."""
    statuses: Counter[int] = Counter()
    connector = aiohttp.TCPConnector(local_addr=(FLOOD_ADDRESS, 0), limit=parallel)
    async with aiohttp.ClientSession(connector=connector) as http:
        gate = asyncio.Semaphore(parallel)

        async def one() -> None:
            async with (
                gate,
                http.post(url, data=body, headers={"Content-Type": "application/sdp"}) as r,
            ):
                statuses[r.status] += 1
                if r.status == 503:
                    assert "still connecting" in (await r.json())["error"]

        await asyncio.gather(*(one() for _ in range(count)))
    return statuses


async def test_300_never_connecting_offers_leave_the_node_serving(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = start_node("conn-a", super_cluster[0], "127.0.0.61", BCAST_CONNECT_DEADLINE="6")
    signalling = HttpSignalling(http, node.signalling)
    publisher = await publish(signalling, "live", WHIP_TOKEN, SyntheticVideo(160, 96))
    body = await never_connecting_offer()
    statuses = await flood(node.signalling + "/api/whep?stream=live", body, 300)
    # the flood's admitted sessions still hold their connecting slots (6 s deadline) ...
    assert node.metric("sessions_connecting") >= 1
    # ... and a client from another address still views and publishes
    viewer = await view(signalling, "live")
    await asyncio.wait_for(viewer.first_frame.wait(), 10)
    second = await publish(signalling, "live2", WHIP_TOKEN, SyntheticVideo(160, 96))
    assert sum(statuses.values()) == 300 and set(statuses) <= {201, 503}, statuses
    assert statuses[201] >= 25 and statuses[503] > 0, statuses  # admitted, then refused
    # every flood session is gone after the deadline; the real ones stay
    await asyncio.to_thread(
        wait_for,
        "the flood's sessions to expire",
        lambda: node.metric("sessions") == 3,
        6 + 10,
    )
    assert node.metric("sessions_connect_timeouts_total") == statuses[201]
    assert node.metric("sessions_connecting") == 0
    assert node.metric("sessions_connected_total") == 3
    frames = len(viewer.frames)
    await asyncio.sleep(0.5)
    assert len(viewer.frames) > frames  # the real viewer kept receiving
    assert "Traceback" not in node.log()
    for session in (viewer, second, publisher):
        await session.close(WHIP_TOKEN)


async def test_a_remote_viewer_that_never_connects_stops_the_wan_relay(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = super_cluster
    holder = start_node("conn-h", r1, "127.0.0.62")
    relay = start_node("conn-r", r2, "127.0.0.63", BCAST_CONNECT_DEADLINE=str(DEADLINE_S))
    signalling = HttpSignalling(http, holder.signalling)
    publisher = await publish(signalling, "far", WHIP_TOKEN, SyntheticVideo(160, 96))
    try:
        await asyncio.to_thread(
            wait_for, "the stream in r2's registry", lambda: "far" in relay.cluster()["registry"]
        )
        async with http.post(
            relay.signalling + "/api/whep?stream=far",
            data=await never_connecting_offer(),
            headers={"Content-Type": "application/sdp"},
        ) as response:
            assert response.status == 201
        await asyncio.to_thread(
            wait_for, "frames crossing to r2", lambda: holder.metric("frames_relayed_out_total") > 0
        )
        assert relay.metric("relay_subscriptions") == 1
        await asyncio.to_thread(
            wait_for,
            "the relay to end",
            lambda: relay.metric("relay_subscriptions") == 0,
            DEADLINE_S + 10,
        )
        assert relay.metric("sessions_connect_timeouts_total") == 1
        # the holder stops sending once the interest lease (3 s) runs out
        await asyncio.sleep(4)
        sent = holder.metric("frames_relayed_out_total")
        await asyncio.sleep(1.5)
        assert holder.metric("frames_relayed_out_total") == sent
    finally:
        await publisher.close(WHIP_TOKEN)
