"""Bad input on the public and admin ports: a 4xx with a one-line reason, and the node
keeps serving (a publish right after succeeds)."""

from __future__ import annotations

import aiohttp
import pytest
from http_kit import offer, post
from node_testkit import SECRET, WHIP_TOKEN, NatsServer, NodeFactory, NodeProcess

from bcastctl.whip.client import publish
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab


async def test_bad_requests_get_a_reason_and_the_node_keeps_serving(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node: NodeProcess = start_node("bad-a", super_cluster[0], "127.0.0.71")
    whip = node.signalling + "/api/whip?stream=s1"
    good = await offer("video")
    cases = [
        (await post(http, whip, good, token="wrong-token"), 401, "wrong Bearer token"),
        (await post(http, whip, good, token=None), 401, "missing Bearer token"),
        (await post(http, whip, b""), 400, "empty body"),
        (await post(http, whip, b"hello, not sdp"), 400, "malformed SDP"),
        (await post(http, whip, good.replace("a=fingerprint:", "a=x-fp:")), 400, "malformed SDP"),
        (await post(http, whip, b"v=0\r\n" + b"a" * 200_000), 413, "too large"),
        (await post(http, whip, await offer("audio")), 400, "no video"),
        (await post(http, whip, good, content_type="application/json"), 415, "application/sdp"),
        (await post(http, node.signalling + "/api/whip", good), 400, "stream: required"),
        (await post(http, node.signalling + "/api/whip?stream=a.b", good), 400, "stream="),
        (
            await post(http, node.signalling + "/api/whep?stream=none", good, None),
            404,
            "unknown stream",
        ),
    ]
    for (status, reason), want_status, want_reason in cases:
        assert (status, want_reason in reason) == (want_status, True), (reason, want_reason)
        assert "\n" not in reason and "Traceback" not in reason
    async with http.delete(node.signalling + "/api/resource/nope") as response:
        assert response.status == 404
    async with http.get(node.admin + "/api/diag/resolve?name=example.com") as response:
        assert response.status == 400 and "only names under" in (await response.json())["error"]
    # still serving: a real publish succeeds right after
    session = await publish(
        HttpSignalling(http, node.signalling), "s1", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    assert session.resource.startswith("/api/resource/")
    async with http.delete(node.signalling + session.resource) as response:
        assert response.status == 401  # ending a publisher needs the token too
    trickle = {"Content-Type": "application/trickle-ice-sdpfrag"}
    async with http.patch(node.signalling + session.resource, data=b"", headers=trickle) as r:
        # no trickle ICE (RFC 9725 allows 405): the answer already carries every candidate
        assert r.status == 405 and "trickle ICE is not supported" in await r.text()
    assert await session.close(WHIP_TOKEN) == 200
    assert node.metric("http_rejected_total") >= len(cases)
    log = node.log()
    assert "Traceback" not in log
    assert WHIP_TOKEN not in log and SECRET not in log and "wrong-token" not in log


async def test_cors_preflight_and_exposed_location(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = start_node("cors-a", super_cluster[0], "127.0.0.72")
    headers = {
        "Origin": "http://player.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    async with http.options(node.signalling + "/api/whip?stream=x", headers=headers) as response:
        assert response.status == 204
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "authorization" in response.headers["Access-Control-Allow-Headers"].lower()
    session = await publish(
        HttpSignalling(http, node.signalling), "corsy", WHIP_TOKEN, SyntheticVideo(160, 96)
    )
    try:
        async with http.post(
            node.signalling + "/api/whep?stream=corsy",
            data=await offer("video"),
            headers={"Content-Type": "application/sdp", "Origin": "http://player.example"},
        ) as response:
            assert response.status == 201
            assert "Location" in response.headers["Access-Control-Expose-Headers"]
            assert response.headers["Location"].startswith("/api/resource/")
    finally:
        await session.close(WHIP_TOKEN)
