"""The lab's DNS server over real UDP/TCP, and coturn with TURN REST credentials from a node."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from typing import Any

import pytest
from dnslib import RCODE, DNSRecord

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab

NS = "broadcaster"


def _ask(address: str, name: str, qtype: str = "A", tcp: bool = False) -> DNSRecord:
    host, port = address.rsplit(":", 1)
    query = DNSRecord.question(name, qtype)
    return DNSRecord.parse(query.send(host, int(port), tcp=tcp, timeout=3))


def test_clusterset_names_resolve_to_the_region(lab: dict[str, Any]) -> None:
    state = lab["state"]
    dns = state["dns"]["address"]
    for region in state["regions"]:
        headless = _ask(
            dns, f"{region['name']}-broadcaster-headless.broadcaster.svc.clusterset.local"
        )
        assert {str(rr.rdata) for rr in headless.rr} == {
            node["advertise_address"] for node in region["nodes"]
        }
        gateway = _ask(
            dns, f"{region['name']}-nats-gateway.broadcaster.svc.clusterset.local", tcp=True
        )
        assert [str(rr.rdata) for rr in gateway.rr] == [region["nats_gateway_listen"].split(":")[0]]
        local = _ask(dns, f"{region['name']}-nats.broadcaster.svc.cluster.local")
        assert [str(rr.rdata) for rr in local.rr] == [region["nats_client_url"][7:].split(":")[0]]


def test_unknown_names_are_nxdomain_and_other_types_empty(lab: dict[str, Any]) -> None:
    dns = lab["state"]["dns"]["address"]
    unknown = _ask(dns, "mars-broadcaster-headless.broadcaster.svc.clusterset.local")
    assert unknown.header.rcode == RCODE.NXDOMAIN
    assert _ask(dns, "example.com").header.rcode == RCODE.NXDOMAIN
    aaaa = _ask(dns, "us-east5-nats-gateway.broadcaster.svc.clusterset.local", "AAAA")
    assert aaaa.header.rcode == RCODE.NOERROR and not aaaa.rr


def test_garbage_does_not_stop_the_dns_server(lab: dict[str, Any]) -> None:
    import socket

    host, port = lab["state"]["dns"]["address"].rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(b"\x00\x01garbage", (host, int(port)))
    answer = _ask(lab["state"]["dns"]["address"], "us-east5-nats.broadcaster.svc.cluster.local")
    assert answer.rr


def _pc_config(node: dict[str, Any]) -> dict[str, Any]:
    with urllib.request.urlopen(f"{node['signalling_url']}/api/pc-config", timeout=3) as r:
        return json.loads(r.read())  # type: ignore[no-any-return]


def test_turn_allocates_with_node_credentials_and_refuses_wrong_ones(lab: dict[str, Any]) -> None:
    # Needs coturn (`apt-get install -y coturn`); without it the lab says TURN is off.
    from aioice import stun
    from aioice.turn import create_turn_endpoint

    turn = lab["state"]["turn"]
    assert turn["address"] is not None, turn["reason"]
    host, port = turn["address"].rsplit(":", 1)
    servers = _pc_config(lab["state"]["regions"][1]["nodes"][0])["iceServers"]
    creds = next(server for server in servers if server.get("username"))
    assert any(url.startswith(f"turn:{turn['address']}") for url in creds["urls"])

    async def allocate(password: str) -> tuple[str, int]:
        transport, _protocol = await create_turn_endpoint(
            asyncio.DatagramProtocol,
            server_addr=(host, int(port)),
            username=creds["username"],
            password=password,
        )
        try:
            relayed: tuple[str, int] = transport.get_extra_info("sockname")
            return relayed
        finally:
            transport.close()

    relayed = asyncio.run(allocate(creds["credential"]))
    assert relayed[0] == host
    with pytest.raises(stun.TransactionFailed) as failed:
        asyncio.run(allocate("wrong" + creds["credential"]))
    assert failed.value.response.attributes["ERROR-CODE"][0] == 401
