"""First frame of a viewer of a stream held in another region, against the region RTT.

    .venv/bin/python bench/cross_region_first_frame.py [--joins 10]

Starts the lab from examples/lab.yaml (three regions, delay links: us-east5 <->
europe-west9 42 ms one way, us-east5 <-> asia-southeast1 110 ms), publishes a 640x360
VP8 30 fps stream (aiortc encoder: a keyframe when asked) on
us-east5-broadcaster-0 and lets one viewer at a time join on a node of each other
region. Each join is cold: the previous viewer left longer than the holder's interest
lease ago, so nothing of the stream crosses the gateway when the POST is sent.
Prints p50/p99 of WHEP POST -> first decoded frame per region, and the target of
issue 15: the region pair's RTT (2 x one way) + 150 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bcastctl.adapters import ice
from bcastctl.targets.lab_state import lab_whip_token, load_lab_state
from bcastctl.whip.client import publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo

REPO = Path(__file__).resolve().parent.parent
ONE_WAY_MS = {"europe-west9": 42.0, "asia-southeast1": 110.0}  # from us-east5
LEASE_S = 3.0  # publishing.INTEREST_LEASE_S


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCAST")}
    return subprocess.run(
        [sys.executable, "-m", "bcastctl", *args], capture_output=True, text=True, env=env
    )


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def joins(http: aiohttp.ClientSession, url: str, count: int) -> list[float]:
    times = []
    for _ in range(count):
        first = asyncio.Event()
        started = time.monotonic()
        viewer = await view(HttpSignalling(http, url), "far", on_frame=lambda *_, e=first: e.set())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first.wait(), 10)
        if viewer.frames:
            times.append((viewer.frames[0][0] - started) * 1000)
        await viewer.close()
        await asyncio.sleep(LEASE_S + 1.5)  # cold again: the holder's interest lease ran out
    return times


async def run(state_dir: Path, count: int) -> None:
    state = load_lab_state(state_dir)
    nodes = {n.name: n for n in state.nodes}
    ice.offer_only("127.0.0.1")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        publisher = await publish(
            HttpSignalling(http, nodes["us-east5-broadcaster-0"].signalling_url),
            "far",
            lab_whip_token(state),
            SyntheticVideo(640, 360),
        )
        await asyncio.sleep(3)
        print("| viewer region | RTT ms | target ms | joins | first frame p50 ms | p99 ms |")
        print("| --- | --- | --- | --- | --- | --- |")
        for region, one_way in ONE_WAY_MS.items():
            url = nodes[f"{region}-broadcaster-0"].signalling_url
            times = await joins(http, url, count)
            rtt = 2 * one_way
            print(
                f"| {region} | {rtt:g} | {rtt + 150:g} | {len(times)} | "
                f"{percentile(times, 50):.1f} | {percentile(times, 99):.1f} |"
            )
        await publisher.close(lab_whip_token(state))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=10)
    args = parser.parse_args()
    state_dir = Path(tempfile.mkdtemp(prefix="bench-far-")) / "state"
    fleet = REPO / "examples" / "lab.yaml"
    up = cli("-o", "json", "lab", "up", "--fleet", str(fleet), "--state-dir", str(state_dir))
    if up.returncode != 0:
        sys.exit(f"lab up failed: {up.stderr}")
    try:
        json.loads(up.stdout)
        asyncio.run(run(state_dir, args.joins))
    finally:
        cli("lab", "down", "--state-dir", str(state_dir))


if __name__ == "__main__":
    main()
