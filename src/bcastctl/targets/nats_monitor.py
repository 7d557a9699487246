"""A NATS server's gateway links, from its monitoring endpoint (/varz, /gatewayz).

Shared by the nats-gateways check and probe rtt (the RTT NATS measures per link).
A dead link simply vanishes from /gatewayz (there is no "down" state).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from bcastctl.targets.base import Endpoint, Target, get_json

_GO_DURATION = re.compile(r"([0-9.]+)(ns|us|µs|μs|ms|s|m|h)")
_UNIT_MS = {
    "ns": 1e-6,
    "us": 1e-3,
    "µs": 1e-3,
    "μs": 1e-3,
    "ms": 1.0,
    "s": 1e3,
    "m": 6e4,
    "h": 3.6e6,
}


def go_duration_ms(text: str) -> float | None:
    """Milliseconds of a Go duration string as NATS prints it ("93µs", "84.2ms", "1m2s")."""
    parts = _GO_DURATION.findall(text or "")
    if not parts or "".join(n + u for n, u in parts) != text:
        return None
    return sum(float(number) * _UNIT_MS[unit] for number, unit in parts)


@dataclass(frozen=True)
class ServerLinks:
    """What one NATS server says about its gateways."""

    monitor: str
    name: str  # the gateway (region) name this server is in
    configured: frozenset[str]
    outbound_rtt_ms: dict[str, float | None]  # connected outbound gateways
    inbound: frozenset[str]  # regions with at least one inbound connection


def parse_server_links(monitor: str, varz: Any, gatewayz: Any) -> ServerLinks:
    gateway = varz.get("gateway") or {}
    own = str(gatewayz.get("name") or gateway.get("name") or "")
    configured = frozenset(str(g.get("name")) for g in gateway.get("gateways") or []) - {own}
    outbound: dict[str, float | None] = {}
    for name, link in (gatewayz.get("outbound_gateways") or {}).items():
        connection = link.get("connection") or {}
        if connection:
            outbound[str(name)] = go_duration_ms(str(connection.get("rtt", "")))
    inbound = frozenset(
        str(name) for name, conns in (gatewayz.get("inbound_gateways") or {}).items() if conns
    )
    return ServerLinks(monitor, own, configured, outbound, inbound)


async def read_server_links(target: Target, monitor: Endpoint, timeout_s: float) -> ServerLinks:
    """One NATS server's /varz and /gatewayz; UnreachableError if it does not answer."""
    varz = await get_json(target, monitor, "/varz", timeout_s=timeout_s)
    gatewayz = await get_json(target, monitor, "/gatewayz", timeout_s=timeout_s)
    return parse_server_links(monitor.url, varz, gatewayz)
