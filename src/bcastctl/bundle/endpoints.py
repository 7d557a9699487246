"""What every target offers a bundle: each NATS server's monitoring pages, each node's view.

NATS pages are the summaries (`/connz` limited to 256 connections, no subscriptions);
a page that does not answer is recorded with the reason, and the rest is collected.
"""

from __future__ import annotations

import asyncio

from bcastctl.bundle.parts import RegionParts
from bcastctl.errors import BcastError
from bcastctl.targets.base import Endpoint, RegionEndpoints, Target, http_get

NATS_PAGES: tuple[tuple[str, str, dict[str, str]], ...] = (
    ("varz", "/varz", {}),
    ("gatewayz", "/gatewayz", {}),
    ("routez", "/routez", {}),
    ("connz", "/connz", {"limit": "256", "subs": "0"}),
)
NODE_PAGES = (("cluster.json", "/api/cluster"), ("metrics.txt", "/metrics"))


async def _page(
    target: Target, endpoint: Endpoint, path: str, params: dict[str, str], timeout_s: float
) -> str:
    response = await http_get(target, endpoint, path, params, timeout_s)
    if not 200 <= response.status < 300:
        raise BcastError(f"{response.url}: HTTP {response.status}")
    return response.body.decode(errors="replace")


async def collect_endpoints(
    target: Target, region: RegionEndpoints, parts: RegionParts, timeout_s: float
) -> None:
    calls = []
    for index, monitor in enumerate(region.nats_monitors):
        server = monitor.pod or f"server-{index}"
        for page, path, params in NATS_PAGES:
            calls.append((f"nats {server}", f"nats/{server}/{page}.json", monitor, path, params))
    for node in region.nodes:
        if node.admin is None:
            parts.unreachable[f"node {node.name}"] = "not running (no admin endpoint)"
            continue
        for file_name, path in NODE_PAGES:
            calls.append(
                (f"node {node.name}", f"nodes/{node.name}/{file_name}", node.admin, path, {})
            )
    answers = await asyncio.gather(
        *(
            _page(target, endpoint, path, params, timeout_s)
            for _, _, endpoint, path, params in calls
        ),
        return_exceptions=True,
    )
    for (part, file_name, _, _, _), answer in zip(calls, answers, strict=True):
        if isinstance(answer, str):
            parts.add(file_name, answer)
        elif isinstance(answer, BcastError | TimeoutError):
            parts.unreachable.setdefault(part, str(answer) or "no answer")
        else:
            raise answer
