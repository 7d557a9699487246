"""The player page on a real lab: `bcastctl lab fault kill-node` of the node serving it,
and it plays again from another node by itself, within the peer timeout + 2 s.

Its own lab (2 regions, 2 nodes each); the page is headless Chromium loading
/watch/<stream> from a node of the region that does not hold the stream.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from browser_kit import CHROMIUM, Browser
from labkit import cli, running_lab, small_fleet

from bcastctl.node.settings import NodeSettings
from bcastctl.targets.lab_state import lab_whip_token, load_lab_state
from bcastctl.whip.client import publish, rtc_configuration
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="chromium is not installed (Debian)"),
]
PEER_TIMEOUT_S = NodeSettings.peer_timeout_s.default  # the lab runs nodes with the default


@pytest.fixture(scope="module")
def page_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, Any]]]:
    base = tmp_path_factory.mktemp("pages")
    fleet = small_fleet(base / "fleet.yaml", replicas=2, one_way_ms=20)
    with running_lab(fleet, base / "state") as lab:
        yield base / "state", lab


async def test_the_player_page_plays_on_after_lab_fault_kill_node(
    page_lab: tuple[Path, dict[str, Any]], tmp_path: Path
) -> None:
    state_dir, _ = page_lab
    state = load_lab_state(state_dir)
    holder_region, viewer_region = state.regions  # east holds the stream, west watches it
    addresses = tuple(node.advertise_address for r in state.regions for node in r.nodes)
    async with aiohttp.ClientSession() as http:
        publisher = await publish(
            HttpSignalling(http, holder_region.nodes[0].signalling_url), "lab-page",
            lab_whip_token(state), SyntheticVideo(320, 180),
            config=rtc_configuration(loopback=True),
        )  # fmt: skip
        browser = Browser(tmp_path / "profile", addresses)
        served_by = None
        try:
            await asyncio.sleep(1)  # the registry reaches west
            entry = viewer_region.nodes[0].signalling_url
            await browser.start(f"{entry}/watch/lab-page?region={viewer_region.name}")
            playing = "viewer.state === 'playing' && viewer.framesDecoded > 10"
            assert await browser.evaluate(playing, until_true=True, limit_s=15)
            served_by = await browser.evaluate("viewer.node")
            assert served_by in {node.name for node in viewer_region.nodes}
            killed = cli("lab", "fault", "kill-node", served_by, "--state-dir", str(state_dir))
            assert killed.returncode == 0, killed.stderr
            started = time.monotonic()
            back = f"viewer.node !== {json.dumps(served_by)} && viewer.state === 'playing'"
            assert await browser.evaluate(back, until_true=True, limit_s=PEER_TIMEOUT_S + 10)
            recovered_s = time.monotonic() - started
            recovery = await browser.evaluate("viewer.recoveries[0]")
            print(f"\nplayer page on {recovery['to']} {recovered_s:.2f} s after kill-node")
            assert recovered_s < PEER_TIMEOUT_S + 2, recovery
            frames = await browser.evaluate("viewer.framesDecoded")
            await asyncio.sleep(1)
            assert await browser.evaluate("viewer.framesDecoded") > frames
        finally:
            await browser.stop()
            await publisher.close(lab_whip_token(state))
            if served_by is not None:
                cli("lab", "fault", "restart-node", served_by, "--state-dir", str(state_dir))
