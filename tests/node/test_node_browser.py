"""Browsers as WHIP/WHEP clients: headless Chromium publishes and views through the nodes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from browser_kit import CHROMIUM, Browser, page_browser
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory, wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="chromium is not installed (Debian package: chromium)"
    ),
]


NODE_ADDRESSES = ("127.0.0.101", "127.0.0.102")


@pytest.fixture
async def browser(tmp_path: Path) -> AsyncIterator[Browser]:
    async with page_browser(tmp_path / "profile", NODE_ADDRESSES) as chromium:
        yield chromium


async def test_browser_publishes_and_late_browser_viewers_start_on_a_keyframe(
    super_cluster: list[NatsServer], start_node: NodeFactory, browser: Browser
) -> None:
    r1, r2 = super_cluster
    a = start_node("br-a", r1, NODE_ADDRESSES[0])
    b = start_node("br-b", r2, NODE_ADDRESSES[1])
    await asyncio.to_thread(wait_for, "b sees a", lambda: "br-a" in b.member_names())
    whip = json.dumps(a.signalling + "/api/whip?stream=chrome")
    wrong = await browser.evaluate(f"publish({whip}, 'not-the-token')")
    assert wrong["status"] == 401 and "wrong Bearer token" in wrong["text"]
    published = await browser.evaluate(f"publish({whip}, {json.dumps(WHIP_TOKEN)})")
    assert published["status"] == 201 and published["location"].startswith("/api/resource/")
    await asyncio.to_thread(wait_for, "registry on b", lambda: "chrome" in b.cluster()["registry"])
    await asyncio.sleep(3)  # the stream is live for a while before the viewers join
    same_node = await browser.evaluate(
        f"view({json.dumps(a.signalling + '/api/whep?stream=chrome')}, 'v1')"
    )
    other_region = await browser.evaluate(
        f"view({json.dumps(b.signalling + '/api/whep?stream=chrome')}, 'v2')"
    )
    for name, joined in (("same node", same_node), ("other region", other_region)):
        assert joined["status"] == 201, joined
        assert joined["firstFrameMs"] is not None, f"{name}: no frame in 10 s: {joined}"
        print(
            f"\nbrowser late joiner, {name}: first frame {joined['firstFrameMs']:.0f} ms "
            "after its POST"
        )
    for joined in (same_node, other_region):
        assert joined["status"] == 201 and joined["codec"] == "video/VP8"
        # a late joiner that waited for the publisher's next natural keyframe would take
        # many seconds; a keyframe request to the media SSRC gets one in ~100 ms
        assert joined["firstFrameMs"] is not None and joined["firstFrameMs"] < 2000
    await asyncio.sleep(1)
    decoded = await browser.evaluate("framesDecoded(window.v2)")
    assert decoded["decoded"] >= 15 and decoded["width"] == 640
    assert a.metric("passthrough_tracks_total") == 2  # audio and video, both encoded passthrough
    assert a.metric("fallback_tracks_total") == 0
    assert b.metric("frames_relayed_in_total") > 0
    # Chromium decoded RTP that the node's direct path wrote (headers, extensions, SRTP)
    assert a.metric("viewer_tracks_direct_total") == 2  # v1: audio and video
    assert b.metric("viewer_tracks_direct_total") == 2
