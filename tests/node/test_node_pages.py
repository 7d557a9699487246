"""The node's web pages: a publisher page and a viewer page that recovers by itself.

Real parts: node processes over a two-region NATS super-cluster, headless Chromium
(Debian's package) loading the pages from the nodes' signalling ports.
Chromium treats every 127.0.0.0/8 origin as potentially trustworthy (a secure context,
so getUserMedia works on the publisher page): the W3C Secure Contexts spec, section
3.2 "Is origin potentially trustworthy?", lists 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from browser_kit import CHROMIUM, Browser
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, NodeProcess, http_json, wait_for

from nats_testkit import free_port

NODE_ADDRESSES = ("127.0.0.121", "127.0.0.122", "127.0.0.123")
PEER_TIMEOUT_S = 2.0
needs_chromium = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="chromium is not installed (Debian package: chromium)"
)


def _start_fleet(
    start_node: NodeFactory, super_cluster: list[NatsServer]
) -> tuple[NodeProcess, NodeProcess, NodeProcess]:
    """a in r1; b1, b2 in r2; every node on one signalling port, as in a fleet."""
    r1, r2 = super_cluster
    port = str(free_port())
    env = {"BCAST_SIGNALLING_PORT": port, "BCAST_PEER_TIMEOUT": str(PEER_TIMEOUT_S)}
    a = start_node("pg-a", r1, NODE_ADDRESSES[0], **env)
    b1 = start_node("pg-b1", r2, NODE_ADDRESSES[1], **env)
    b2 = start_node("pg-b2", r2, NODE_ADDRESSES[2], **env)
    wait_for("full membership", lambda: len(a.member_names()) == 2 == len(b1.member_names()))
    return a, b1, b2


@pytest.mark.slow
def test_pages_regions_and_stream_status(
    super_cluster: list[NatsServer], start_node: NodeFactory
) -> None:
    a, b1, _ = _start_fleet(start_node, super_cluster)
    status, regions = http_json(b1.signalling + "/api/regions")
    assert status == 200
    assert regions["node"] == "pg-b1" and regions["region"] == "r2"
    port = b1.signalling.rsplit(":", 1)[1]
    assert regions["regions"] == [
        {"name": "r1", "nodes": [{"name": "pg-a", "url": f"http://127.0.0.121:{port}"}]},
        {
            "name": "r2",
            "nodes": [
                {"name": "pg-b1", "url": f"http://127.0.0.122:{port}"},
                {"name": "pg-b2", "url": f"http://127.0.0.123:{port}"},
            ],
        },
    ]
    assert http_json(a.signalling + "/api/streams/nobody") == (
        200,
        {"stream": "nobody", "held": False, "node": None, "region": None},
    )
    assert http_json(a.signalling + "/api/streams/bad%20id")[0] == 400
    assert http_json(a.signalling + "/watch/no%2Fslash")[0] in (400, 404)
    assert http_json(a.signalling + "/static/../service.py")[0] == 404
    assert http_json(a.signalling + "/static/nothing.js") == (
        404,
        {"error": "no such file: 'nothing.js'"},
    )


async def _page(profile: Path, url: str) -> Browser:
    browser = Browser(profile, NODE_ADDRESSES)
    browser.flags.append("--window-size=1100,900")
    await browser.start(url)
    return browser


async def _until(browser: Browser, expression: str, limit_s: float) -> float:
    """Seconds until the JS expression holds; AssertionError with the page's state if never."""
    started = time.monotonic()
    if not await browser.evaluate(expression, until_true=True, limit_s=limit_s):
        state = await browser.evaluate("JSON.stringify(window.viewer || window.publisher)")
        raise AssertionError(f"not within {limit_s} s: {expression}; page: {state}")
    return time.monotonic() - started


@pytest.fixture
async def browsers(tmp_path: Path) -> AsyncIterator[Callable[[str, str], Browser]]:
    started: list[Browser] = []

    async def open_page(name: str, url: str) -> Browser:
        browser = await _page(tmp_path / name, url)
        started.append(browser)
        return browser

    try:
        yield open_page  # type: ignore[misc]
    finally:
        for browser in started:
            await browser.stop()


TOKEN_VISIBLE = """(() => {
  const token = %s;
  const seen = [document.documentElement.outerHTML, document.body.innerText, location.href,
    document.getElementById('token').value, JSON.stringify(localStorage),
    JSON.stringify(sessionStorage), document.cookie,
    ...performance.getEntriesByType('resource').map(e => e.name)];
  return seen.some(text => text.includes(token));
})()"""


@pytest.mark.slow
@needs_chromium
async def test_publisher_page_and_a_viewer_page_that_survives_its_node_and_a_reconnect(
    super_cluster: list[NatsServer],
    start_node: NodeFactory,
    browsers: Callable[[str, str], Browser],
    tmp_path: Path,
) -> None:
    a, b1, b2 = await asyncio.to_thread(_start_fleet, start_node, super_cluster)
    publisher = await browsers("publisher", a.signalling + "/publish")  # type: ignore[misc]
    await publisher.evaluate(
        "document.getElementById('stream').value = 'pages';"
        f"document.getElementById('token').value = {json.dumps(WHIP_TOKEN)};"
        "document.getElementById('start').click(); true"
    )
    await _until(publisher, "publisher.state === 'live'", 15)
    assert not await publisher.evaluate(TOKEN_VISIBLE % json.dumps(WHIP_TOKEN))
    await asyncio.to_thread(wait_for, "registry on b1", lambda: "pages" in b1.cluster()["registry"])

    # on loopback every region is as near as another: the page is kept in r2 (?region=)
    # so that it watches across regions, and it still elects a node there by RTT
    page = b1.signalling + "/watch/pages?region=r2"
    viewer = await browsers("viewer", page)  # type: ignore[misc]
    await _until(viewer, "viewer.state === 'playing' && viewer.framesDecoded > 10", 15)
    assert await viewer.evaluate("[viewer.region, viewer.election.winner]") == ["r2", "r2"]
    # behind the public HTTPS entry a region is one name: <region>.<host>, or the global host
    view = {"node": "n", "region": "r2", "regions": [{"name": "r1"}, {"name": "r2"}]}
    urls = "r => r.map(x => x.nodes[0].url)"
    regional = f"({urls})(publicRegions('https:', 'r2.live.example.com', {json.dumps(view)}))"
    assert await viewer.evaluate(regional) == [
        "https://r1.live.example.com",
        "https://r2.live.example.com",
    ]
    global_host = f"({urls})(publicRegions('https:', 'live.example.com', {json.dumps(view)}))"
    assert await viewer.evaluate(global_host) == ["https://live.example.com"]
    served_by = await viewer.evaluate("viewer.node")
    assert served_by in ("pg-b1", "pg-b2")
    lost = {"pg-b1": b1, "pg-b2": b2}[served_by]
    await asyncio.sleep(1.5)  # stats on screen
    await viewer.screenshot(tmp_path / "viewer.png")

    lost.kill()
    recovered_s = await _until(
        viewer,
        f"viewer.node !== {json.dumps(served_by)} && viewer.state === 'playing'"
        " && viewer.framesDecoded > 0",
        PEER_TIMEOUT_S + 10,
    )
    recovery = await viewer.evaluate("viewer.recoveries[0]")
    print(f"\nviewer page back on {recovery['to']} {recovered_s:.2f} s after {served_by} died")
    assert recovered_s < PEER_TIMEOUT_S + 2, recovery
    assert recovery["from"] == served_by and recovery["to"] != served_by
    frames = await viewer.evaluate("viewer.framesDecoded")
    await asyncio.sleep(1)
    assert await viewer.evaluate("viewer.framesDecoded") > frames  # still playing
    assert not await publisher.evaluate(TOKEN_VISIBLE % json.dumps(WHIP_TOKEN))
    await publisher.screenshot(tmp_path / "publisher.png")
    print(f"screenshots: {tmp_path}")

    # the publisher stops and goes live again (the token typed again): the viewer page keeps
    # its session (stream continuity), waiting meanwhile instead of reconnecting
    resource = await viewer.evaluate("viewer.resource")
    await publisher.evaluate("document.getElementById('stop').click(); true")
    await _until(viewer, "viewer.state === 'waiting'", 10)
    await asyncio.sleep(2)
    await publisher.evaluate(
        f"document.getElementById('token').value = {json.dumps(WHIP_TOKEN)};"
        "document.getElementById('start').click(); true"
    )
    await _until(publisher, "publisher.state === 'live'", 15)
    frames = await viewer.evaluate("viewer.framesDecoded")
    back_s = await _until(
        viewer, f"viewer.state === 'playing' && viewer.framesDecoded > {frames + 5}", 10
    )
    print(f"viewer page plays the re-published stream {back_s:.2f} s after it went live")
    assert await viewer.evaluate("[viewer.resource, viewer.recoveries.length]") == [resource, 1]
    assert back_s < 2.0
    assert not await publisher.evaluate(TOKEN_VISIBLE % json.dumps(WHIP_TOKEN))

    # the publisher's node dies: the publisher page publishes again on another node (its
    # region has no other: r2), and the viewer page plays the stream from there
    frames = await viewer.evaluate("viewer.framesDecoded")
    a.kill()
    moved_s = await _until(publisher, "publisher.state === 'live' && publisher.node !== 'pg-a'", 15)
    playing_s = await _until(viewer, f"viewer.framesDecoded > {frames + 10}", 15)
    print(f"publisher page live on another node {moved_s:.2f} s after its node died")
    assert await publisher.evaluate("publisher.republished") == 1
    assert playing_s < PEER_TIMEOUT_S + 6
