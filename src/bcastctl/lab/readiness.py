"""What "the lab is ready" means, measured from the outside, with deadlines.

- NATS: every region's /gatewayz shows an outbound connection to every other region
  and an inbound one from every other region (configured minus connected is empty).
- Nodes: every node answers /readyz with 200 and its /api/cluster `members` lists
  every other node of the fleet.
- DNS: the server answers a lab name over UDP.
Each function returns what is still missing (empty = ready), so callers can wait
and, at the deadline, say exactly what never came up.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Iterable
from typing import Any

import aiohttp

from bcastctl.targets.lab_state import NodeState, RegionState

POLL_S = 0.1


async def get_json(session: aiohttp.ClientSession, url: str, timeout_s: float = 2.0) -> Any:
    async with session.get(url, timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
        response.raise_for_status()
        return await response.json(content_type=None)


def gateway_gaps(region: str, others: Iterable[str], gatewayz: dict[str, Any]) -> list[str]:
    """Links of `region` missing in its /gatewayz, as 'A->B' (outbound) / 'B=>A' (inbound)."""
    outbound = gatewayz.get("outbound_gateways") or {}
    inbound = gatewayz.get("inbound_gateways") or {}
    gaps = []
    for other in others:
        if not (outbound.get(other) or {}).get("connection"):
            gaps.append(f"{region}->{other}")
        if not inbound.get(other):
            gaps.append(f"{other}=>{region} (inbound at {region})")
    return gaps


async def nats_gaps(session: aiohttp.ClientSession, regions: list[RegionState]) -> list[str]:
    names = [region.name for region in regions]

    async def one(region: RegionState) -> list[str]:
        try:
            gatewayz = await get_json(session, f"{region.nats_monitor_url}/gatewayz")
        except (aiohttp.ClientError, TimeoutError) as e:
            return [f"NATS {region.name} monitor not answering ({type(e).__name__})"]
        return gateway_gaps(region.name, [n for n in names if n != region.name], gatewayz)

    results = await asyncio.gather(*(one(region) for region in regions))
    return [gap for gaps in results for gap in gaps]


async def node_gaps(session: aiohttp.ClientSession, nodes: list[NodeState]) -> list[str]:
    everyone = {node.name for node in nodes}

    async def one(node: NodeState) -> list[str]:
        try:
            async with session.get(
                f"{node.admin_url}/readyz", timeout=aiohttp.ClientTimeout(total=2)
            ) as response:
                if response.status != 200:
                    return [f"node {node.name} not ready (/readyz {response.status})"]
            view = await get_json(session, f"{node.admin_url}/api/cluster")
        except (aiohttp.ClientError, TimeoutError) as e:
            return [f"node {node.name} not answering ({type(e).__name__})"]
        seen = {member["name"] for member in view.get("members", [])}
        missing = sorted(everyone - {node.name} - seen)
        return [f"node {node.name} does not see {', '.join(missing)}"] if missing else []

    results = await asyncio.gather(*(one(node) for node in nodes))
    return [gap for gaps in results for gap in gaps]


def dns_answers(host: str, port: int, name: str, timeout_s: float = 0.5) -> bool:
    """One A query over UDP; True on any well-formed reply."""
    from dnslib import DNSRecord

    query = DNSRecord.question(name)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout_s)
        try:
            sock.sendto(query.pack(), (host, port))
            data, _ = sock.recvfrom(4096)
        except OSError:
            return False
    return bool(DNSRecord.parse(data).header.id == query.header.id)


async def wait_until(
    what: str,
    probe: Callable[[], Any],
    timeout_s: float,
    *,
    alive: Callable[[], str | None] = lambda: None,
) -> None:
    """Poll `probe` (async, returns a list of gaps) until empty; TimeoutError names the gaps.

    `alive` returns a reason to stop early (a lab process died) or None.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    gaps: list[str] = []
    while True:
        died = alive()
        if died:
            raise RuntimeError(died)
        gaps = await probe()
        if not gaps:
            return
        if loop.time() >= deadline:
            shown = "; ".join(gaps[:4]) + (f" (+{len(gaps) - 4} more)" if len(gaps) > 4 else "")
            raise TimeoutError(f"{what} not ready after {timeout_s:.0f} s: {shown}")
        await asyncio.sleep(POLL_S)
