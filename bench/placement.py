"""What placement adds to a viewer's first frame: handed over in the region, redirected.

    .venv/bin/python bench/placement.py [--joins 20]

Real parts: two nats-server processes joined by a gateway (regions r1, r2, loopback,
no added latency), three node processes, aiortc publisher and viewers in this process.
The publisher (640x360 VP8, 30 fps) is on node h (r1). Time from the WHEP POST to the
first decoded frame, one late joiner at a time, when the POST goes to:
- direct: h itself (placed locally);
- handed over: f (r1, full: max_sessions 1, one viewer on it), which hands the offer to
  h over NATS request/reply (node/routing.py); the client never sees it;
- redirected: g (r2, full the same way), which answers 307 to r1's public URL (h's
  signalling URL, BCAST_PUBLIC_URL) and the client posts again there.
Extra = p50/p99 of each path minus the direct one.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "node"))
sys.path.insert(0, str(REPO / "tests"))  # nats_testkit, shared by the test kits

import aiohttp  # noqa: E402
from node_testkit import (  # noqa: E402
    WHIP_TOKEN,
    NatsServer,
    NodeProcess,
    start_super_cluster,
    stop_process,
    wait_for,
)

from bcastctl.adapters import ice  # noqa: E402
from bcastctl.whip.client import publish, view  # noqa: E402
from bcastctl.whip.signalling import HttpSignalling  # noqa: E402
from bcastctl.whip.synthetic import SyntheticVideo  # noqa: E402
from nats_testkit import free_port  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def first_frames(http: aiohttp.ClientSession, url: str, joins: int) -> list[float]:
    times = []
    for _ in range(joins):
        first = asyncio.Event()
        started = time.monotonic()
        viewer = await view(
            HttpSignalling(http, url), "place", on_frame=lambda *_, e=first: e.set()
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(first.wait(), 10)
        if viewer.frames:
            times.append((viewer.frames[0][0] - started) * 1000)
        await viewer.close()
        await asyncio.sleep(0.6)  # past the keyframe-request limit and a heartbeat
    return times


async def run(nodes: dict[str, NodeProcess], joins: int) -> None:
    ice.offer_only("127.0.0.1")
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as http:
        publisher = await publish(
            HttpSignalling(http, nodes["h"].signalling), "place", WHIP_TOKEN, SyntheticVideo()
        )
        wait_for("stream everywhere", lambda: "place" in nodes["g"].cluster()["registry"])
        fillers = [
            await view(HttpSignalling(http, nodes[k].signalling), "place", decode=False)
            for k in ("f", "g")
        ]
        await asyncio.sleep(2)
        figures = {}
        for label, key in (("direct", "h"), ("handed over", "f"), ("redirected", "g")):
            figures[label] = await first_frames(http, nodes[key].signalling, joins)
        for filler in fillers:
            await filler.close()
        await publisher.close(WHIP_TOKEN)
    base50, base99 = percentile(figures["direct"], 50), percentile(figures["direct"], 99)
    print("| POST sent to | joins | first frame p50 ms | p99 ms | extra p50 ms | extra p99 ms |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, times in figures.items():
        p50, p99 = percentile(times, 50), percentile(times, 99)
        print(
            f"| {label} | {len(times)} | {p50:.1f} | {p99:.1f} | "
            f"{p50 - base50:+.1f} | {p99 - base99:+.1f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--joins", type=int, default=20)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-placement-"))
    servers: list[NatsServer] = []
    nodes: dict[str, NodeProcess] = {}
    try:
        servers = start_super_cluster(directory, ["r1", "r2"])
        port = free_port("127.0.0.131")
        public = {"BCAST_PUBLIC_URL": f"http://127.0.0.131:{port}"}
        full = {"BCAST_MAX_SESSIONS": "1"}
        for key, server, address, extra in (
            ("h", servers[0], "127.0.0.131", {"BCAST_SIGNALLING_PORT": str(port), **public}),
            ("f", servers[0], "127.0.0.132", {**full, **public}),
            ("g", servers[1], "127.0.0.133", full),
        ):
            node = NodeProcess(
                f"bench-{key}",
                server.region,
                server,
                address,
                directory / f"{key}.log",
                {"BCAST_LOG_LEVEL": "WARNING", **extra},
            )
            nodes[key] = node
            node.start()
        for node in nodes.values():
            node.wait_listening()
        for node in nodes.values():
            wait_for(f"{node.name} sees the others", lambda n=node: len(n.member_names()) == 2)
        asyncio.run(run(nodes, args.joins))
    finally:
        for node in nodes.values():
            node.stop()
        for server in servers:
            if server.process is not None:
                stop_process(server.process)


if __name__ == "__main__":
    main()
