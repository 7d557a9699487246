"""Media through the lab: publish in us-east5, view in europe-west9, across the delay link."""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from labkit import http_json

from bcastctl.adapters import ice
from bcastctl.targets.lab_state import lab_whip_token, load_lab_state
from bcastctl.whip.client import publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo, read_number

pytestmark = pytest.mark.slow

ONE_WAY_US_EU_MS = 42.0  # examples/lab.yaml


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    ice.offer_only("127.0.0.1")  # the test's own peers sit on loopback too
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            yield session
    finally:
        ice.restore()


async def _until(what: str, predicate: Callable[[], Any], limit_s: float = 20.0) -> None:
    deadline = time.monotonic() + limit_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.05)


def _latencies_ms(source: SyntheticVideo, frames: list[tuple[float, Any]]) -> list[float]:
    latencies = []
    for received_at, frame in frames:
        number = read_number(frame)
        if number is not None and number in source.sent_at:
            latencies.append((received_at - source.sent_at[number]) * 1000)
    return latencies


async def test_viewer_in_another_region_gets_frames_after_the_wan_delay(
    lab: dict[str, Any], lab_dir: Path, http: aiohttp.ClientSession
) -> None:
    regions = {region["name"]: region for region in lab["state"]["regions"]}
    publisher_node = regions["us-east5"]["nodes"][0]
    viewer_node = regions["europe-west9"]["nodes"][0]
    token = lab_whip_token(load_lab_state(lab_dir))
    source = SyntheticVideo(320, 180)
    publisher = await publish(
        HttpSignalling(http, publisher_node["signalling_url"]), "lab-e2e", token, source
    )
    sessions = [publisher]
    try:
        registry_url = f"{viewer_node['admin_url']}/api/cluster"
        await _until(
            "stream in europe's registry", lambda: "lab-e2e" in http_json(registry_url)["registry"]
        )
        local = await view(
            HttpSignalling(http, publisher_node["signalling_url"]), "lab-e2e", keep_frames=True
        )
        sessions.append(local)
        remote = await view(
            HttpSignalling(http, viewer_node["signalling_url"]), "lab-e2e", keep_frames=True
        )
        sessions.append(remote)
        await _until("20 frames each", lambda: len(local.frames) >= 20 and len(remote.frames) >= 20)
        remote_ms = _latencies_ms(source, remote.frames)
        local_ms = _latencies_ms(source, local.frames)
        assert len(remote_ms) >= 15 and len(local_ms) >= 15
        print(
            f"\nframe latency p50: same node {statistics.median(local_ms):.1f} ms, "
            f"across us-east5 -> europe-west9 {statistics.median(remote_ms):.1f} ms"
        )
        # the frames crossed the emulated WAN: never faster than the one-way latency
        assert min(remote_ms) >= ONE_WAY_US_EU_MS
        assert statistics.median(remote_ms) - statistics.median(local_ms) >= ONE_WAY_US_EU_MS - 5
    finally:
        for session in reversed(sessions):
            await session.close(token if session is publisher else None)
