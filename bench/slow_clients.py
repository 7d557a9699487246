"""How many slow (slowloris) clients a node survives while serving quick ones.

    .venv/bin/python bench/slow_clients.py [--slow 250,500,1000,2000] [--seconds 15]

Real parts: one nats-server, one node process with its default bounds (header deadline
10 s, 500 connections per server). In this process: S attackers, each sending request
headers one byte every 2 s and reconnecting as soon as the node closes it, for the whole
run, all from 127.0.0.1; meanwhile one quick client (from 127.0.0.142) GETs
/api/pc-config on a new connection every 50 ms.
Printed per S: the quick client's answers (200 / other / no answer), its latency p50 and
p99, how the node closed the attackers' connections (header deadline, evicted to make
room, refused) and the connections it held at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "node"))
sys.path.insert(0, str(REPO / "tests"))

import aiohttp  # noqa: E402
from node_testkit import NatsServer, NodeProcess, start_super_cluster, stop_process  # noqa: E402

QUICK_ADDRESS = "127.0.0.142"  # the attackers connect from 127.0.0.1
HEAD = b"GET /api/pc-config HTTP/1.1\r\nHost: n\r\nX-Slow: " + b"a" * 1000


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def attacker(url: str, until: float) -> None:
    parts = urlsplit(url)
    while time.monotonic() < until:
        try:
            reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        except OSError:
            await asyncio.sleep(0.1)
            continue
        try:
            for byte in HEAD:
                writer.write(bytes([byte]))
                await writer.drain()
                try:
                    await asyncio.wait_for(reader.read(1), 2.0)
                    break  # answered (408 or 503) or closed
                except TimeoutError:
                    if time.monotonic() >= until:
                        break
        except (ConnectionError, OSError):
            pass
        finally:
            writer.close()


async def quick(url: str, until: float) -> tuple[Counter[str], list[float]]:
    outcomes: Counter[str] = Counter()
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(force_close=True, limit=0, local_addr=(QUICK_ADDRESS, 0))
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=5)
    ) as http:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                async with http.get(url + "/api/pc-config") as response:
                    await response.read()
                    outcomes[str(response.status)] += 1
                    latencies.append((time.monotonic() - started) * 1000)
            except (aiohttp.ClientError, TimeoutError):
                outcomes["no answer"] += 1
            await asyncio.sleep(0.05)
    return outcomes, latencies


async def one_run(node: NodeProcess, slow: int, seconds: float) -> str:
    before = {k: node.metric(k) for k in KEYS}
    until = time.monotonic() + seconds
    attackers = [asyncio.create_task(attacker(node.signalling, until)) for _ in range(slow)]
    await asyncio.sleep(2.0)  # they hold the slots before the quick client starts
    outcomes, latencies = await quick(node.signalling, until)
    held = node.metric("http_connections")
    await asyncio.gather(*attackers)
    after = {k: node.metric(k) - before[k] for k in KEYS}
    ok = outcomes.get("200", 0)
    other = sum(v for k, v in outcomes.items() if k not in ("200", "no answer"))
    return (
        f"| {slow} | {ok} | {other} | {outcomes.get('no answer', 0)} | "
        f"{percentile(latencies, 50):.1f} | {percentile(latencies, 99):.1f} | "
        f"{after['http_header_timeouts_total']:.0f} | "
        f"{after['http_connections_evicted_total']:.0f} | "
        f"{after['http_connections_refused_total']:.0f} | {held:.0f} |"
    )


KEYS = (
    "http_header_timeouts_total",
    "http_connections_evicted_total",
    "http_connections_refused_total",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slow", default="250,500,1000,2000")
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    directory = Path(tempfile.mkdtemp(prefix="bench-slow-"))
    servers: list[NatsServer] = []
    node: NodeProcess | None = None
    try:
        servers = start_super_cluster(directory, ["r1"])
        node = NodeProcess(
            "bench-slow",
            "r1",
            servers[0],
            "127.0.0.141",
            directory / "node.log",
            {"BCAST_LOG_LEVEL": "WARNING"},
        )
        node.start()
        node.wait_listening()
        print(
            "| slow clients | quick 200 | quick other | quick no answer | p50 ms | p99 ms "
            "| closed at deadline | evicted | refused | connections held |"
        )
        print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
        for slow in (int(n) for n in args.slow.split(",")):
            print(asyncio.run(one_run(node, slow, args.seconds)), flush=True)
    finally:
        if node is not None:
            node.stop()
        for server in servers:
            if server.process is not None:
                stop_process(server.process)


if __name__ == "__main__":
    main()
