"""A region is one endpoint: offers placed by load, resources reached on any node.

Real nodes and a real NATS super-cluster; the clients are the project's one WHIP/WHEP
client, which follows redirects as RFC 9725 section 4.5 allows ("the WHIP endpoint MAY
return a 307 Temporary Redirect ... the WHIP client MUST follow", RFC 9725 text).
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, NodeProcess, until, wait_for

from bcastctl.whip.client import ClientSession, publish, view
from bcastctl.whip.signalling import HttpSignalling, WhipError
from bcastctl.whip.synthetic import SyntheticVideo
from nats_testkit import free_port

pytestmark = pytest.mark.slow


def fleet_of_three(
    super_cluster: list[NatsServer], start_node: NodeFactory, prefix: str
) -> tuple[NodeProcess, NodeProcess, NodeProcess]:
    """r1: two nodes, r2: one, max 3 sessions each; r2's public URL is its node's."""
    r1, r2 = super_cluster
    port = free_port("127.0.0.73")
    limit = {"BCAST_MAX_SESSIONS": "3"}
    a = start_node(f"{prefix}-a", r1, "127.0.0.71", BCAST_LOG_LEVEL="DEBUG", **limit)
    b = start_node(f"{prefix}-b", r1, "127.0.0.72", **limit)
    c = start_node(
        f"{prefix}-c",
        r2,
        "127.0.0.73",
        BCAST_SIGNALLING_PORT=str(port),
        BCAST_PUBLIC_URL=f"http://127.0.0.73:{port}",
        **limit,
    )
    for node in (a, b, c):
        others = {n.name for n in (a, b, c)} - {node.name}
        wait_for(f"{node.name} sees the others", lambda n=node, o=others: o <= n.member_names())
    return a, b, c


def holder(session: ClientSession) -> str:
    """The node a resource id names: /api/resource/<node>.<token>."""
    return session.resource.rsplit("/", 1)[1].split(".", 1)[0]


async def test_eight_viewers_on_one_node_fill_the_region_then_the_nearest_region(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    a, b, c = await asyncio.to_thread(fleet_of_three, super_cluster, start_node, "pl")
    publisher = await publish(
        HttpSignalling(http, c.signalling), "wide", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    await asyncio.to_thread(wait_for, "registry on a", lambda: "wide" in a.cluster()["registry"])
    viewers = []
    for _ in range(8):  # every POST goes to a
        viewers.append(await view(HttpSignalling(http, a.signalling), "wide"))
        await asyncio.sleep(0.6)  # a heartbeat: the others' load is what their beats say
    where = [holder(v) for v in viewers]
    assert where.count(a.name) == 3 and where.count(b.name) == 3 and where.count(c.name) == 2
    # the redirected viewers talk to r2's endpoint from now on
    assert {v.signalling.url for v in viewers if holder(v) == c.name} == {c.signalling}
    await until("every viewer decodes", lambda: all(len(v.frames) >= 5 for v in viewers), 30)
    with pytest.raises(WhipError) as full:
        await view(HttpSignalling(http, a.signalling), "wide")
    assert full.value.status == 503 and "fleet is full" in full.value.reason
    assert a.metric("placement_local_total") == 3
    assert a.metric("placement_neighbour_total") == 3
    assert a.metric("placement_redirected_total") == 2
    assert a.metric("placement_refused_total") == 1
    # each decision is in a's log at debug level
    log = a.log()
    for kind in ("local", "neighbour", "redirect", "refuse"):
        assert f"placement: POST /api/whep?stream=wide -> {kind} " in log, kind
    for v in viewers:
        await v.close()
    await publisher.close(WHIP_TOKEN)


async def test_delete_sent_to_any_other_node_ends_the_session_on_its_holder(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    nodes = await asyncio.to_thread(fleet_of_three, super_cluster, start_node, "rt")
    by_name = {n.name: n for n in nodes}
    publisher = await publish(
        HttpSignalling(http, nodes[0].signalling), "routed", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    await asyncio.to_thread(
        wait_for,
        "registry everywhere",
        lambda: all("routed" in n.cluster()["registry"] for n in nodes),
    )
    for home in nodes:
        for other in (n for n in nodes if n is not home):
            session = await view(HttpSignalling(http, home.signalling), "routed")
            assert holder(session) == home.name
            await until("the viewer decodes", lambda s=session: len(s.frames) >= 1, 20)
            viewers = home.metric("viewers")
            answer = await HttpSignalling(http, other.signalling).request(
                "DELETE", session.resource
            )
            assert answer.status == 200, answer.body
            assert home.metric("viewers") == viewers - 1, f"{other.name} -> {home.name}"
            await session.pc.close()
            assert other.metric("resources_forwarded_total") >= 1
    # the publisher's resource needs its token, checked where the DELETE arrives
    elsewhere = HttpSignalling(http, by_name[nodes[2].name].signalling)
    refused = await elsewhere.request("DELETE", publisher.resource)
    assert refused.status == 401
    unknown = await elsewhere.request("DELETE", f"/api/resource/{nodes[0].name}.AAAAAAAAAAAAAAAA")
    assert unknown.status == 404
    gone = await elsewhere.request("DELETE", "/api/resource/nosuchnode.AAAAAAAAAAAAAAAA")
    assert gone.status == 404 and b"does not answer" in gone.body
    deleted = await elsewhere.request(
        "DELETE", publisher.resource, headers={"Authorization": f"Bearer {WHIP_TOKEN}"}
    )
    assert deleted.status == 200
    await publisher.pc.close()
