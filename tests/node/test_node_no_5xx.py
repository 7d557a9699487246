"""Client input never gets a 5xx (issue 12, point 5): offers the node cannot forward,
broken SDP, odd stream names and headers, bad admin names. Each gets a 4xx with a
one-line reason that names the problem, and the node keeps serving.

Codec names: the node forwards encoded frames (no transcoding), so a publisher must
send VP8 or H264, the codecs aiortc 1.16 packetizes (aiortc/codecs/__init__.py lists
VP8, H264, Opus, G722, PCMU, PCMA); VP9, AV1 and H.265 offers are refused by name.
"""

from __future__ import annotations

import re

import aiohttp
import pytest
from http_kit import offer, post, raw_request
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory

from bcastctl.whip.client import publish
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab


def only_codecs(sdp: str, names: dict[str, str]) -> str:
    """The offer with its video codecs renamed (e.g. VP8 -> VP9): what a browser offering
    only codecs the node cannot forward sends."""
    for old, new in names.items():
        sdp = sdp.replace(f" {old}/90000", f" {new}/90000")
    return sdp


async def test_offers_the_node_cannot_forward_get_a_4xx_naming_the_problem(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = start_node("no5xx-a", super_cluster[0], "127.0.0.73")
    whip = node.signalling + "/api/whip?stream=s5"
    good = await offer("video", "audio")
    port = re.search(r"m=video (\d+)", good)
    assert port is not None
    cases = [
        (
            only_codecs(good, {"VP8": "VP9", "H264": "AV1"}),
            400,
            "no video codec this node can forward: offered VP9, AV1; supported VP8, H264",
        ),
        (
            only_codecs(good, {"VP8": "H265", "H264": "H265"}),
            400,
            "no video codec this node can forward: offered H265; supported VP8, H264",
        ),
        (re.sub(r"a=setup:\S+\r\n", "", good), 400, "no a=setup"),
        (good.replace(port.group(0), "m=video nine", 1), 400, "port 'nine' is not a number"),
    ]
    for body, want_status, want_reason in cases:
        status, reason = await post(http, whip, body)
        assert (status, reason) == (want_status, reason) and want_reason in reason, reason
        assert "\n" not in reason
    status, reason = await post(http, node.signalling + "/api/whip?stream=x%0A", good)
    assert status == 400 and reason.startswith("stream='x\\n'"), reason
    # WHEP: the same offers, and a viewer that cannot take the stream's codec
    whep = node.signalling + "/api/whep?stream=h264"
    signalling = HttpSignalling(http, node.signalling)
    session = await publish(
        signalling, "h264", WHIP_TOKEN, SyntheticVideo(160, 96), codec="video/H264"
    )
    try:
        viewer = await offer("video", direction="recvonly")
        status, reason = await post(http, whep, only_codecs(viewer, {"H264": "VP9"}), None)
        assert status == 406, reason
        assert reason == (
            "stream 'h264' is sent as video/H264, which the offer does not accept "
            "(offered VP8, VP9)"
        )
        vp9 = only_codecs(viewer, {"VP8": "VP9", "H264": "AV1"})
        status, reason = await post(http, whep, vp9, None)
        assert status == 400 and reason.startswith("no video codec this node can forward"), reason
    finally:
        await session.close(WHIP_TOKEN)
    assert "Traceback" not in node.log()
    # still serving
    session = await publish(signalling, "s5", WHIP_TOKEN, SyntheticVideo(160, 96))
    assert await session.close(WHIP_TOKEN) == 200


async def test_bad_headers_and_admin_names_get_a_4xx(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = start_node("no5xx-b", super_cluster[0], "127.0.0.74")
    body = (await offer("video")).encode()
    request = (
        b"POST /api/whip?stream=hdr HTTP/1.1\r\nHost: node\r\nContent-Type: application/sdp\r\n"
        b"Authorization: Bearer \xff\xfe\xc3(\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
        % len(body)
    ) + body
    status, response = await raw_request(node.signalling, request)
    assert status == 401 and b"malformed Bearer token: not ASCII text" in response, response
    for name, reason in (
        ("a..r1-nats-gateway.ns.svc.clusterset.local", "empty label"),
        ("x" * 64 + ".ns.svc.cluster.local", "longer than 63"),
        (".svc.cluster.local", "empty label"),
        ("\u00e9t\u00e9.ns.svc.cluster.local", "is not letters, digits"),  # IDNA raised here
        ("a\x00b.ns.svc.cluster.local", "is not letters, digits"),
    ):
        async with http.get(node.admin + "/api/diag/resolve", params={"name": name}) as response:
            answer = await response.json()
            assert response.status == 400 and reason in answer["error"], answer
    log = node.log()
    assert "Traceback" not in log and "-> 500" not in log
