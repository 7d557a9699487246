"""The node binds ICE to its configured UDP port range (issue 11, point 2): every host
candidate it offers lies in BCAST_RTC_PORT_MIN..MAX, media flows through those ports, and
an exhausted range is a 503 that says so (the node keeps serving).

Why it matters: the rendered NetworkPolicy admits media only on that range; aioice 0.13
alone binds port 0 (anywhere in the ephemeral range: aioice/ice.py,
Connection.get_component_candidates), which such a policy drops.
"""

from __future__ import annotations

import asyncio
import re

import aiohttp
import pytest
from http_kit import offer, post
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, wait_for

from bcastctl.whip.client import publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo
from nats_testkit import free_udp_range

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab

ADDRESS = "127.0.0.64"
CANDIDATE = re.compile(r"a=candidate:\S+ \d+ udp \d+ (\S+) (\d+) typ host", re.IGNORECASE)


def host_ports(answer: str) -> list[int]:
    return [int(port) for _, port in CANDIDATE.findall(answer)]


async def test_every_candidate_lies_in_the_range_and_media_flows(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    low, high = free_udp_range(ADDRESS, 20)
    node = start_node(
        "ice-a",
        super_cluster[0],
        ADDRESS,
        BCAST_RTC_PORT_MIN=str(low),
        BCAST_RTC_PORT_MAX=str(high),
        BCAST_CONNECT_DEADLINE="2",
        BCAST_MAX_CONNECTING="200",
    )
    signalling = HttpSignalling(http, node.signalling)
    publisher = await publish(signalling, "ranged", WHIP_TOKEN, SyntheticVideo(160, 96))
    viewer = await view(signalling, "ranged")
    await asyncio.wait_for(viewer.first_frame.wait(), 10)
    ports = [p for s in (publisher, viewer) for p in host_ports(s.pc.remoteDescription.sdp)]
    assert ports and all(low <= port <= high for port in ports), (low, high, ports)
    # the rest of the range taken by offers that never connect: then a clear 503
    never = re.sub(r"a=(candidate:[^\r]*|end-of-candidates)\r\n", "", await offer("video"))
    answered = []
    for _ in range(21):
        status, text = await post(
            http, node.signalling + f"/api/whip?stream=f{len(answered)}", never
        )
        if status != 201:
            break
        answered += host_ports(text)
    assert (status, text) == (503, f"no free UDP port for ICE in {low}-{high}; retry later"), (
        answered,
        node.log()[-3000:],
    )
    assert all(low <= port <= high for port in answered)
    assert len(set(answered + ports)) <= 20
    frames = len(viewer.frames)
    await asyncio.sleep(0.5)
    assert len(viewer.frames) > frames  # the connected viewer is untouched
    # the unconnected sessions expire (connect deadline) and free their ports
    await asyncio.to_thread(
        wait_for, "the stalled sessions to expire", lambda: node.metric("sessions") == 2, 15
    )
    late = await view(signalling, "ranged")
    await asyncio.wait_for(late.first_frame.wait(), 10)
    assert all(low <= port <= high for port in host_ports(late.pc.remoteDescription.sdp))
    assert "Traceback" not in node.log()
    for session in (late, viewer, publisher):
        await session.close(WHIP_TOKEN)
