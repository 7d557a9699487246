"""A drain asked over the admin port can be cancelled before its deadline (DELETE
/api/drain): deploy backs off a drain that would cut more sessions than --max-disrupted
allows. The node is ready again, keeps its sessions past the old deadline and takes new
ones; a drain from SIGTERM (the pod being stopped) cannot be cancelled."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import pytest
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, wait_for

from bcastctl.whip.client import publish
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo

pytestmark = pytest.mark.slow  # starts NATS servers and nodes

DEADLINE_S = 2.0


async def test_a_cancelled_drain_keeps_the_sessions_and_sigterm_cannot_be_cancelled(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = start_node("undrain", super_cluster[0], "127.0.0.94", BCAST_DRAIN_DEADLINE="2s")
    admin = node.admin
    await asyncio.to_thread(
        wait_for, "ready", lambda: node.metric("ready") == 1, 15
    )  # one peer-timeout window
    publisher = await publish(
        HttpSignalling(http, node.signalling), "live", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    async with http.delete(admin + "/api/drain") as response:
        assert response.status == 409
        assert "not draining" in (await response.json())["error"]
    async with http.post(admin + "/api/drain") as response:
        assert response.status == 202 and (await response.json())["sessions"] == 1
    async with http.get(admin + "/readyz") as response:
        assert response.status == 503
    async with http.delete(admin + "/api/drain") as response:
        assert response.status == 200
        assert await response.json() == {"draining": False, "sessions": 1}
    async with http.get(admin + "/readyz") as response:
        assert response.status == 200
    await asyncio.sleep(DEADLINE_S + 1.0)  # past the cancelled drain's deadline
    assert node.process is not None and node.process.poll() is None, "the node exited"
    assert node.metric("sessions") == 1 and node.metric("draining") == 0
    second = await publish(
        HttpSignalling(http, node.signalling), "two", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    assert node.metric("sessions") == 2  # it takes new sessions again
    node.process.send_signal(signal.SIGTERM)
    await asyncio.to_thread(wait_for, "draining", lambda: node.metric("draining") == 1, 5)
    async with http.delete(admin + "/api/drain") as response:
        assert response.status == 409
        assert "the node is stopping" in (await response.json())["error"]
    await asyncio.to_thread(node.process.wait, DEADLINE_S + 5)
    assert "drain cancelled: 1 sessions kept" in node.log()
    assert "drained: 2 sessions cut at the deadline" in node.log()
    for session in (publisher, second):
        await session.close(WHIP_TOKEN)
