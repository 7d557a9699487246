"""The client's address behind trusted proxies: X-Forwarded-For, read only from them.

Behind a load balancer every request comes from the proxy's address, so per-client limits
(connecting.py: a quarter of the connecting slots per client address) would count the proxy
as one client. When the connection comes from a network in BCAST_TRUSTED_PROXIES, the
header is walked from the right: each trusted proxy appended BCAST_PROXY_APPENDS entries,
the first of them the address it was connected from, so the client is that entry; while it
is itself a trusted proxy the walk goes on to what that proxy appended. Everything further
left was written by the client and is not believed.

Most proxies append one entry (the default). Google's global external Application Load
Balancer (what a GKE Gateway of class gke-l7-global-external-managed-mc provisions)
appends two, `[<supplied-value>,]<client-ip>,<load-balancer-ip>`, and does not verify the
supplied value (https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header);
with container-native (zonal NEG) backends it connects from 35.191.0.0/16 and
130.211.0.0/22, 2600:2d00:1:1::/64 over IPv6
(https://cloud.google.com/load-balancing/docs/firewall-rules). So trusting those ranges
with 2 appended entries names the client without knowing the Gateway's address, which GKE
allocates after deploy. An entry that is not an IP address, or a header shorter than what
the proxy appends, stops the walk at the last trusted hop. Without trusted proxies (the
default) the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 16  # entries read from the right; a longer chain stops at the 16th


def client_address(
    peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network], appends: int = 1
) -> str:
    """The client's address for a connection from `peer` with these X-Forwarded-For values,
    each trusted proxy having appended `appends` entries (the client's first)."""
    address = peer
    entries = [e.strip() for value in forwarded_for for e in value.split(",")][-MAX_HOPS:]
    while _within(address, trusted) and len(entries) >= appends:
        entry = entries[-appends]
        del entries[-appends:]
        try:
            address = str(ipaddress.ip_address(entry))
        except ValueError:
            break
    return address


def _within(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def forwarded_middleware(trusted_proxies: Sequence[str], appends: int) -> Middleware:
    """Requests from trusted proxies carry the client's address as `request.remote`."""
    trusted = [ipaddress.ip_network(cidr) for cidr in trusted_proxies]

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote or ""
        if not trusted or not _within(peer, trusted):
            return await handler(request)
        client = client_address(
            peer, request.headers.getall("X-Forwarded-For", ()), trusted, appends
        )
        return await handler(request.clone(remote=client) if client != peer else request)

    return middleware
