"""The per-client connecting cap behind a load balancer keys on the client the proxy names.

Google's global external Application Load Balancer (GKE Gateway class
gke-l7-global-external-managed-mc) connects to zonal NEG backends (the Gateway's pods) from
35.191.0.0/16 and 130.211.0.0/22 (https://cloud.google.com/load-balancing/docs/https,
"Firewall rules"; https://cloud.google.com/load-balancing/docs/firewall-rules) and appends
`<client-ip>,<load-balancer-ip>` to X-Forwarded-For, after any value the client sent, which
it does not verify (https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header):
`[<supplied-value>,]<client-ip>,<load-balancer-ip>`.
"""

from __future__ import annotations

import ipaddress
from collections import Counter

import aiohttp
import pytest
from http_kit import never_connecting_offer
from node_testkit import WHIP_TOKEN, NatsServer, NodeFactory

from bcastctl.node.forwarded import client_address
from bcastctl.whip.client import publish
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo

GFE = [ipaddress.ip_network(n) for n in ("35.191.0.0/16", "130.211.0.0/22", "34.120.1.2/32")]
LB = "34.120.1.2"  # the Gateway's forwarding-rule address


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("35.191.3.4", [f"203.0.113.7,{LB}"], "203.0.113.7"),  # what Google sends
        ("35.191.3.4", [f"198.51.100.1, 203.0.113.7, {LB}"], "203.0.113.7"),  # forged prefix
        ("35.191.3.4", ["198.51.100.1", f"203.0.113.7,{LB}"], "203.0.113.7"),  # two headers
        ("35.191.3.4", [f"not-an-ip,{LB}"], LB),  # garbage: stop at the last trusted hop
        ("35.191.3.4", [], "35.191.3.4"),  # no header: the proxy itself
        ("203.0.113.9", [f"198.51.100.1,{LB}"], "203.0.113.9"),  # not from a proxy: ignored
        ("35.191.3.4", ["2001:db8::1", LB], "2001:db8::1"),
    ],
)
def test_the_client_is_the_rightmost_address_not_a_trusted_proxy(
    peer: str, header: list[str], client: str
) -> None:
    assert client_address(peer, header, GFE) == client


FRONT_ENDS = [ipaddress.ip_network(n) for n in ("35.191.0.0/16", "130.211.0.0/22")]


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("35.191.3.4", [f"203.0.113.7,{LB}"], "203.0.113.7"),  # what Google sends
        ("130.211.0.9", [f"198.51.100.1, 203.0.113.7, {LB}"], "203.0.113.7"),  # forged prefix
        ("35.191.3.4", ["198.51.100.1", f"203.0.113.7,{LB}"], "203.0.113.7"),  # two headers
        ("35.191.3.4", ["2001:db8::1", LB], "2001:db8::1"),
        ("35.191.3.4", [LB], "35.191.3.4"),  # shorter than what Google appends: the proxy
        ("35.191.3.4", [f"not-an-ip,{LB}"], "35.191.3.4"),  # garbage: the last trusted hop
        ("203.0.113.9", [f"198.51.100.1,{LB}"], "203.0.113.9"),  # not from a proxy: ignored
        # a client inside the trusted ranges: the walk goes on to what it appended (2 entries)
        ("35.191.3.4", [f"198.51.100.1,203.0.113.5,x,35.191.9.9,{LB}"], "203.0.113.5"),
    ],
)
def test_behind_google_the_client_is_the_second_entry_from_the_right(
    peer: str, header: list[str], client: str
) -> None:
    """Trusting only Google's front-end ranges (not the Gateway's address, which GKE
    allocates after deploy), two appended entries name the client."""
    assert client_address(peer, header, FRONT_ENDS, appends=2) == client


PROXY = "127.0.0.92"  # stands for Google's front ends
DIRECT = "127.0.0.93"  # a client reaching the node directly, not a proxy


async def offers(
    url: str, body: str, source: str, forwarded_for: str | None, n: int
) -> Counter[str]:
    """`n` WHEP offers from `source`; outcomes: "201" or the 503's reason."""
    seen: Counter[str] = Counter()
    headers = {"Content-Type": "application/sdp"}
    if forwarded_for is not None:
        headers["X-Forwarded-For"] = forwarded_for
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with aiohttp.ClientSession(connector=connector) as http:
        for _ in range(n):
            async with http.post(url, data=body, headers=headers) as response:
                seen["201" if response.status == 201 else (await response.json())["error"]] += 1
    return seen


@pytest.mark.slow
async def test_the_connecting_cap_counts_clients_behind_a_trusted_proxy(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    """Max 8 connecting, 2 per client. Behind the proxy two clients get 2 each (the proxy
    alone would have had 2 for everyone); a client forging an X-Forwarded-For prefix is
    still itself; a direct client's header is ignored."""
    node = start_node(
        "fwd-a",
        super_cluster[0],
        "127.0.0.91",
        BCAST_MAX_CONNECTING="8",
        BCAST_CONNECT_DEADLINE="20",
        BCAST_TRUSTED_PROXIES=f"{PROXY}/32,{LB}",
    )
    signalling = HttpSignalling(http, node.signalling)
    await publish(signalling, "live", WHIP_TOKEN, SyntheticVideo(160, 96))
    url = node.signalling + "/api/whep?stream=live"
    body = await never_connecting_offer()
    refused = "too many sessions from 203.0.113.7 still connecting (2); retry in a moment"
    first = await offers(url, body, PROXY, f"203.0.113.7,{LB}", 3)
    assert first == {"201": 2, refused: 1}
    forged = await offers(url, body, PROXY, f"198.51.100.1,203.0.113.7,{LB}", 1)
    assert forged == {refused: 1}
    second = await offers(url, body, PROXY, f"203.0.113.8,{LB}", 2)
    assert second == {"201": 2}
    direct = await offers(url, body, DIRECT, "203.0.113.10", 3)
    assert direct["201"] == 2 and any(DIRECT in reason for reason in direct), direct


@pytest.mark.slow
async def test_behind_google_two_viewers_through_one_front_end_are_two_clients(
    super_cluster: list[NatsServer], start_node: NodeFactory, http: aiohttp.ClientSession
) -> None:
    """What render sets with the GKE entry (BCAST_PROXY_APPENDS=2; PROXY stands for
    Google's front-end ranges, and the load balancer's own address is not trusted): two
    viewers arriving through the same front end get 2 connecting slots each, where keying on
    the front end (or on the load balancer's address) would have given 2 for both; a viewer
    writing a different forged leftmost entry on each request is still one client."""
    node = start_node(
        "fwd-g",
        super_cluster[0],
        "127.0.0.94",
        BCAST_MAX_CONNECTING="8",
        BCAST_CONNECT_DEADLINE="20",
        BCAST_TRUSTED_PROXIES=f"{PROXY}/32",
        BCAST_PROXY_APPENDS="2",
    )
    signalling = HttpSignalling(http, node.signalling)
    await publish(signalling, "live", WHIP_TOKEN, SyntheticVideo(160, 96))
    url = node.signalling + "/api/whep?stream=live"
    body = await never_connecting_offer()
    refused = "too many sessions from 203.0.113.7 still connecting (2); retry in a moment"
    first = Counter[str]()
    for forged in ("198.51.100.1", "198.51.100.2", "198.51.100.3"):
        first += await offers(url, body, PROXY, f"{forged}, 203.0.113.7, {LB}", 1)
    assert first == {"201": 2, refused: 1}
    second = await offers(url, body, PROXY, f"198.51.100.1, 203.0.113.8, {LB}", 2)
    assert second == {"201": 2}
