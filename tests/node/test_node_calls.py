"""Node calls are authenticated like the rest of the fabric: a forged or replayed call on
a node's call subject ends nothing, and a forged hop header places nothing.

A client on the nodes' NATS server plays the attacker who can read and publish there
(a leaked node credential): it records a genuine forwarded DELETE and sends it again,
and sends a call sealed with another secret. NATS request/reply semantics (a request
without a responder times out) are nats-py's `request` (nats.aio.client.Client.request).
"""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, until, wait_for

from bcastctl.adapters.nats_bus import BusMessage, NatsBus
from bcastctl.node.routing import HOP_HEADER, Seal
from bcastctl.protocol import call_subject
from bcastctl.whip.client import publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo

pytestmark = pytest.mark.slow
FLEET = "testfleet"


async def test_recorded_or_forged_calls_are_refused_and_end_nothing(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, _ = super_cluster
    a = start_node("k-a", r1, "127.0.0.81")
    b = start_node("k-b", r1, "127.0.0.82")
    await asyncio.to_thread(wait_for, "a sees b", lambda: "k-b" in a.member_names())
    bus = await NatsBus.connect([r1.url], "attacker")
    recorded: list[BusMessage] = []

    async def record(message: BusMessage) -> None:
        recorded.append(message)

    await bus.subscribe(call_subject(FLEET, "k-a"), record)
    await bus.flush()
    publisher = await publish(
        HttpSignalling(http, a.signalling), "calls", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    try:
        first = await view(HttpSignalling(http, a.signalling), "calls", decode=False)
        second = await view(HttpSignalling(http, a.signalling), "calls", decode=False)
        # a genuine DELETE through b: recorded on its way to a
        answer = await HttpSignalling(http, b.signalling).request("DELETE", first.resource)
        assert answer.status == 200
        await until("the call recorded", lambda: len(recorded) == 1)
        viewers = a.metric("viewers")
        # sent again as it was: same nonce, still fresh -> refused, no reply
        replayed = await bus.request(recorded[0].subject, recorded[0].data, timeout_s=2)
        assert replayed is None
        # a DELETE of the second viewer sealed with another secret -> refused, no reply
        call = json.loads(json.loads(recorded[0].data)["body"])
        call.update(p=second.resource, n="f" * 24)
        forged = Seal("not-the-cluster-secret").seal(recorded[0].subject, call)
        assert await bus.request(recorded[0].subject, forged, timeout_s=2) is None
        assert a.metric("calls_refused_total") == 2
        assert a.metric("viewers") == viewers == 1
        # a client's own hop header is not a hop: the offer is still placed (here: locally)
        fake = {HOP_HEADER: "1.2.3.4;0;deadbeef", "Content-Type": "application/sdp"}
        junk = await HttpSignalling(http, b.signalling).request(
            "POST", "/api/whep?stream=calls", body=b"v=0", headers=fake
        )
        assert junk.status == 400
        assert b.metric("placement_local_total") == 1
    finally:
        await bus.close()
        await publisher.close(WHIP_TOKEN)


async def test_a_publisher_on_a_full_node_is_handed_to_its_neighbour(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, _ = super_cluster
    a = start_node("w-a", r1, "127.0.0.83", BCAST_MAX_SESSIONS="1")
    b = start_node("w-b", r1, "127.0.0.84", BCAST_MAX_SESSIONS="1")
    await asyncio.to_thread(wait_for, "a sees b", lambda: "w-b" in a.member_names())
    first = await publish(
        HttpSignalling(http, a.signalling), "one", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    await asyncio.sleep(0.6)  # a heartbeat
    # a wrong token is refused where it arrives, never forwarded
    refused = await HttpSignalling(http, a.signalling).request(
        "POST",
        "/api/whip?stream=two",
        body=b"v=0",
        headers={"Authorization": "Bearer wrong", "Content-Type": "application/sdp"},
    )
    assert refused.status == 401 and b.metric("calls_served_total") == 0
    second = await publish(
        HttpSignalling(http, a.signalling), "two", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    assert second.resource.split("/")[-1].startswith("w-b.")
    await asyncio.to_thread(
        wait_for, "b holds two", lambda: a.cluster()["registry"].get("two", {}).get("node") == "w-b"
    )
    for session in (first, second):
        assert await session.close(WHIP_TOKEN) == 200
