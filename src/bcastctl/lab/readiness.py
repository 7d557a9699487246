"""What "the lab is ready" means, measured from the outside, with deadlines.

- NATS: every region's server is configured for every other region (/varz), dials it
  and is dialled by it (/gatewayz): the verdict verify mesh's nats-gateways gives; and
  nats-server has measured each link's RTT (it says 0 until the link's first PING, about
  1 s after it connects), so that `probe rtt` and verify mesh find measured RTTs.
- Nodes: every node answers /readyz with 200 and its /api/cluster `members` lists
  every other node of the fleet.
- DNS: the server answers a lab name over UDP.
Each function returns what is still missing (empty = ready), so callers can wait
and, at the deadline, say exactly what never came up.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bcastctl.errors import UnreachableError
from bcastctl.protocol import ClusterView
from bcastctl.readers.cluster import read_cluster_view, unseen
from bcastctl.readers.nats import ServerLinks, read_server_links, region_gaps
from bcastctl.readers.source import UrlSource
from bcastctl.targets.lab_state import NodeState, RegionState

POLL_S = 0.1


async def nats_links(
    session: aiohttp.ClientSession, region: RegionState
) -> ServerLinks | UnreachableError:
    """The region's NATS server's links (/varz + /gatewayz), or why it did not answer."""
    try:
        return await read_server_links(UrlSource(session, region.nats_monitor_url))
    except UnreachableError as e:
        return e


async def nats_gaps(session: aiohttp.ClientSession, regions: list[RegionState]) -> list[str]:
    """Every missing gateway piece of the lab, judged as verify mesh's nats-gateways judges,
    plus every link whose RTT nats-server has not measured yet."""
    names = [region.name for region in regions]
    answers = await asyncio.gather(*(nats_links(session, region) for region in regions))
    gaps: list[str] = []
    for region, answer in zip(regions, answers, strict=True):
        if isinstance(answer, UnreachableError):
            gaps.append(f"NATS {region.name} monitor not answering ({answer.message})")
            continue
        peers = [name for name in names if name != region.name]
        gaps += [str(gap) for gap in region_gaps(region.name, [answer], peers, measured=True)]
    return gaps


@dataclass(frozen=True)
class NodeAnswer:
    """What a node's admin port says: /readyz and its /api/cluster view."""

    readyz: int | None  # the HTTP status of /readyz; None: no answer
    view: ClusterView | None  # None: no (usable) answer, see `error`
    error: str | None = None


async def ask_node(session: aiohttp.ClientSession, node: NodeState) -> NodeAnswer:
    try:
        async with session.get(
            f"{node.admin_url}/readyz", timeout=aiohttp.ClientTimeout(total=2)
        ) as response:
            readyz = response.status
    except (aiohttp.ClientError, TimeoutError) as e:
        return NodeAnswer(None, None, type(e).__name__)
    try:
        return NodeAnswer(readyz, await read_cluster_view(UrlSource(session, node.admin_url)))
    except UnreachableError as e:
        return NodeAnswer(readyz, None, e.message)


async def node_gaps(session: aiohttp.ClientSession, nodes: list[NodeState]) -> list[str]:
    everyone = {node.name for node in nodes}

    async def one(node: NodeState) -> list[str]:
        answer = await ask_node(session, node)
        if answer.readyz is not None and answer.readyz != 200:
            return [f"node {node.name} not ready (/readyz {answer.readyz})"]
        if answer.view is None:
            return [f"node {node.name} not answering ({answer.error})"]
        missing = unseen(answer.view, everyone)
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
