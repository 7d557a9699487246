"""A publisher that disconnects and publishes again: viewers elsewhere keep their sessions.

Real node processes over a two-region NATS super-cluster; the publisher is aiortc
(numbered synthetic frames), the viewers aiortc (decoding) and headless Chromium.
Chromium's inbound-rtp stats (framesDecoded, freezeCount, keyFramesDecoded) are the W3C
webrtc-stats RTCInboundRtpStreamStats members.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from browser_kit import CHROMIUM, Browser, page_browser
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, NodeProcess, until, wait_for

from bcastctl.whip.client import ClientSession, publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo, read_number

pytestmark = pytest.mark.slow
ADDRESSES = ("127.0.0.131", "127.0.0.132", "127.0.0.133")
AWAY_S = 2.0  # the publisher is gone this long (up to 10 s: the last round of the aiortc test)


def _fleet(
    start_node: NodeFactory, super_cluster: list[NatsServer]
) -> tuple[NodeProcess, NodeProcess, NodeProcess]:
    """a1, a2 in r1 (where the publisher comes and goes), b in r2 (the viewers)."""
    r1, r2 = super_cluster
    a1 = start_node("ct-a1", r1, ADDRESSES[0])
    a2 = start_node("ct-a2", r1, ADDRESSES[1])
    b = start_node("ct-b", r2, ADDRESSES[2])
    wait_for("membership", lambda: len(b.member_names()) == 2)
    return a1, a2, b


async def _publish_again(
    http: aiohttp.ClientSession,
    node: NodeProcess,
    b: NodeProcess,
    first_number: int,
    away_s: float = AWAY_S,
) -> tuple[ClientSession, float]:
    """Publish on `node` `away_s` after the publisher left; returns when it is published."""
    left = time.monotonic()
    await asyncio.to_thread(wait_for, "b forgets", lambda: "cont" not in b.cluster()["registry"])
    await asyncio.sleep(max(0.0, left + away_s - time.monotonic()))
    source = SyntheticVideo(320, 180, first_number=first_number)
    session = await publish(HttpSignalling(http, node.signalling), "cont", WHIP_TOKEN, source)
    return session, time.monotonic()


async def test_a_viewer_in_another_region_keeps_its_session_across_publisher_reconnects(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    a1, a2, b = await asyncio.to_thread(_fleet, start_node, super_cluster)
    publisher = await publish(
        HttpSignalling(http, a1.signalling), "cont", WHIP_TOKEN, SyntheticVideo(320, 180)
    )
    await asyncio.to_thread(wait_for, "registry on b", lambda: "cont" in b.cluster()["registry"])
    numbers: list[tuple[float, int | None]] = []
    viewer = await view(
        HttpSignalling(http, b.signalling),
        "cont",
        on_frame=lambda at, frame: numbers.append((at, read_number(frame))),
    )
    await until("frames on b", lambda: len(numbers) >= 10)
    # again on the same node after 2 s, then on another after 9.5 s
    for round_, (node, away_s) in enumerate(((a1, AWAY_S), (a2, 9.5)), start=1):
        await publisher.close(WHIP_TOKEN)
        first = 1000 * round_
        publisher, published_at = await _publish_again(http, node, b, first, away_s)
        await until(
            f"frames from publish {round_}",
            lambda first=first: any(n is not None and n >= first for _, n in numbers),
            5,
        )
        waited = time.monotonic() - published_at
        print(
            f"\nback on {node.name} after {away_s:g} s: viewer decodes {waited * 1000:.0f} ms later"
        )
        assert waited < 1.0
        assert viewer.pc.connectionState == "connected"
        new = [n for at, n in numbers if at >= published_at]
        assert new and all(n is not None for n in new)  # every frame decoded and readable
    assert b.metric("viewers") == 1  # the same session all along
    assert b.metric("viewer_tracks_resumed_total") == 2
    await publisher.close(WHIP_TOKEN)
    await viewer.close()


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with page_browser(tmp_path / "profile", ADDRESSES) as chromium:
        yield chromium


INBOUND = """(async () => {
  let found = null;
  (await window.v.getStats()).forEach(s => {
    if (s.type === 'inbound-rtp' && s.kind === 'video') found = {decoded: s.framesDecoded,
      freezes: s.freezeCount || 0, keyframes: s.keyFramesDecoded || 0};
  });
  return Object.assign(found, {state: window.v.connectionState});
})()"""


@pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (Debian: chromium)")
async def test_chromium_keeps_decoding_one_stream_across_a_publisher_moving_node(
    super_cluster: list[NatsServer],
    start_node: NodeFactory,
    http: aiohttp.ClientSession,
    browser: Browser,
) -> None:
    a1, a2, b = await asyncio.to_thread(_fleet, start_node, super_cluster)
    publisher = await publish(
        HttpSignalling(http, a1.signalling), "cont", WHIP_TOKEN, SyntheticVideo(320, 180)
    )
    await asyncio.to_thread(wait_for, "registry on b", lambda: "cont" in b.cluster()["registry"])
    joined = await browser.evaluate(
        f"view({json.dumps(b.signalling + '/api/whep?stream=cont')}, 'v')"
    )
    assert joined["status"] == 201 and joined["firstFrameMs"] is not None, joined
    await asyncio.sleep(1)
    before = await browser.evaluate(INBOUND)
    await publisher.close(WHIP_TOKEN)
    publisher, _ = await _publish_again(http, a2, b, 1000)
    started = time.monotonic()
    after = before
    while after["decoded"] <= before["decoded"] + 5 and time.monotonic() - started < 5:
        await asyncio.sleep(0.02)
        after = await browser.evaluate(INBOUND)
    waited = time.monotonic() - started
    print(f"\nChromium decodes the re-published stream {waited * 1000:.0f} ms after its publish")
    assert after["decoded"] > before["decoded"] + 5 and waited < 1.0, (before, after)
    assert after["state"] == "connected"  # the same peer connection, never renegotiated
    assert after["keyframes"] > before["keyframes"]  # it restarted on the new keyframe
    await asyncio.sleep(1)
    settled = await browser.evaluate(INBOUND)
    assert settled["decoded"] >= after["decoded"] + 20  # and plays on at the new rate
    # the publisher's absence is one freeze (or none when the player hides it), not many
    assert settled["freezes"] - before["freezes"] <= 2, (before, settled)
    await publisher.close(WHIP_TOKEN)
