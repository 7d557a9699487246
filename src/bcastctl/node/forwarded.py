"""The client's address behind trusted proxies: X-Forwarded-For, read only from them.

Behind a load balancer every request comes from the proxy's address, so per-client limits
(connecting.py: a quarter of the connecting slots per client address) would count the proxy
as one client. When the connection comes from a network in BCAST_TRUSTED_PROXIES, the
client is the rightmost X-Forwarded-For entry that is not itself a trusted proxy: each proxy
appends the address it was connected from, and everything left of what a trusted proxy
appended was written by the client and is not believed. Google's external Application Load
Balancer (what a GKE Gateway of class gke-l7-global-external-managed-mc provisions)
connects from 35.191.0.0/16 and 130.211.0.0/22 and appends `<client-ip>,<load-balancer-ip>`
(its forwarding rule's address), keeping whatever the client sent before them unverified
(cloud.google.com/load-balancing/docs/https#x-forwarded-for_header): trust those ranges
and the Gateway's address. An entry that is not an IP address stops the walk at the last
trusted hop. Without trusted proxies (the default) the header is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_HOPS = 16  # entries read from the right; a longer chain stops at the 16th


def client_address(peer: str, forwarded_for: Iterable[str], trusted: Sequence[Network]) -> str:
    """The client's address for a connection from `peer` with these X-Forwarded-For values."""
    address = peer
    entries = [e.strip() for value in forwarded_for for e in value.split(",")]
    for entry in reversed(entries[-MAX_HOPS:]):
        if not _within(address, trusted):
            break
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


def forwarded_middleware(trusted_proxies: Sequence[str]) -> Middleware:
    """Requests from trusted proxies carry the client's address as `request.remote`."""
    trusted = [ipaddress.ip_network(cidr) for cidr in trusted_proxies]

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        peer = request.remote or ""
        if not trusted or not _within(peer, trusted):
            return await handler(request)
        client = client_address(peer, request.headers.getall("X-Forwarded-For", ()), trusted)
        return await handler(request.clone(remote=client) if client != peer else request)

    return middleware
