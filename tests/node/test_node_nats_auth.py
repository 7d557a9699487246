"""Nodes on the rendered, authenticated NATS: what they need is allowed, nothing else.

The NATS servers run the config render ships (nats_testkit.start_rendered_fabric);
each node connects as its own user (its pod name) with BCAST_NATS_USER and
BCAST_NATS_PASSWORD, as the rendered StatefulSet sets them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import aiohttp
import pytest
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, http_json, wait_for

from bcastctl.whip.client import publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo
from nats_testkit import RENDERED_PASSWORDS, RenderedServer, rendered_fleet, start_rendered_fabric

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab

FLEET = rendered_fleet("testfleet")  # the node tests' fleet name
NODE_PASSWORD = RENDERED_PASSWORDS["NATS_NODE_PASSWORD"]


@pytest.fixture(scope="module")
def rendered_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[RenderedServer]]:
    servers = start_rendered_fabric(tmp_path_factory.mktemp("nats"), FLEET, ["r1", "r2"])
    try:
        yield servers
    finally:
        for server in servers:
            server.stop()


def region_of(server: RenderedServer) -> NatsServer:
    """What start_node needs of a server: its region (the URL is passed in the env)."""
    return NatsServer(server.region, 0, 0, 0)


def credentials(server: RenderedServer, user: str, password: str = NODE_PASSWORD) -> dict[str, str]:
    return {"BCAST_NATS_URL": server.url, "BCAST_NATS_USER": user, "BCAST_NATS_PASSWORD": password}


@pytest.mark.slow
async def test_nodes_with_their_credentials_form_the_mesh_and_relay_media(
    rendered_nats: list[RenderedServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    r1, r2 = rendered_nats
    a = start_node(
        "r1-broadcaster-0", region_of(r1), "127.0.2.11", **credentials(r1, "r1-broadcaster-0")
    )
    b = start_node(
        "r2-broadcaster-0", region_of(r2), "127.0.2.12", **credentials(r2, "r2-broadcaster-0")
    )
    for node, other in ((a, b), (b, a)):
        await asyncio.to_thread(
            wait_for,
            f"{node.name} sees {other.name}",
            lambda n=node, o=other: o.name in n.member_names(),
        )
    # RTT echo: the reply goes to the requester's inbox (allow_responses)
    status, samples = http_json(a.admin + "/api/diag/rtt?peer=r2-broadcaster-0&n=3")
    assert status == 200 and len(samples["samples_ms"]) == 3, samples
    # media: interest and keyframe requests to the holder, frames under its name
    publisher = await publish(
        HttpSignalling(http, a.signalling), "cam", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    await asyncio.to_thread(wait_for, "registry on b", lambda: "cam" in b.cluster()["registry"])
    viewer = await view(HttpSignalling(http, b.signalling), "cam")
    await asyncio.to_thread(wait_for, "frames relayed to b", lambda: len(viewer.frames) >= 10)
    assert b.metric("frames_refused_total") == 0
    await viewer.close()
    await publisher.close(WHIP_TOKEN)
    for node in (a, b):
        assert "Permissions Violation" not in node.log() and NODE_PASSWORD not in node.log()


def test_a_node_without_valid_credentials_is_not_on_nats_and_not_ready(
    rendered_nats: list[RenderedServer], start_node: NodeFactory
) -> None:
    r1, _ = rendered_nats
    cases = {
        "r1-broadcaster-0": "wrong-password",  # a rendered user, the wrong password
        "r1-broadcaster-7": NODE_PASSWORD,  # no such ordinal: no such user
    }
    nodes = [
        start_node(name, region_of(r1), f"127.0.2.{13 + i}", **credentials(r1, name, password))
        for i, (name, password) in enumerate(cases.items())
    ]
    for node in nodes:
        wait_for(
            f"{node.name} to give up a first attempt", lambda n=node: "retrying" in n.log(), 15
        )
        status, body = http_json(node.admin + "/readyz")
        assert status == 503 and "not connected to NATS" in body["reason"]
        assert node.cluster()["nats_connected"] is False
        assert "Authorization Violation" in node.log()  # the reason, not just a timeout
        assert NODE_PASSWORD not in node.log() and "wrong-password" not in node.log()
