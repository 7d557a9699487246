"""A mixed fleet's rendered NATS configs, run by real nats-servers: regions on MCS dial each
other at their clusterset names (moved to loopback as MCS DNS would answer them), and every
link to or from a region outside MCS goes to the address its mode gives - the load
balancer's, or one of the node addresses (`urls`: nats-server dials another URL of the
same gateway when one fails, server/gateway.go solicitGateway / getRandomURL) - with
nothing moved by the test.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bcastctl.fleet import Fleet
from bcastctl.model import parse, to_data
from bcastctl.render.nats_config import nats_config
from nats_testkit import RENDERED_HOSTS, free_port, rendered_fleet, start_rendered_fabric

pytestmark = pytest.mark.slow  # starts NATS servers


def _node_port() -> int:
    """A free port in Kubernetes' NodePort range (the gateway listens on it here)."""
    while (port := free_port()) < 30000:
        pass
    return port


def _mixed(r3_gateway: dict[str, object], port: int) -> Fleet:
    base = rendered_fleet("mixedfleet")
    data = to_data(base)
    data["nats"]["gateway_port"] = port
    for region in data["regions"]:
        host = RENDERED_HOSTS[region["name"]]
        lb = {"mode": "loadBalancer", "address": host}
        region["gateway"] = {"mode": "mcs", "external": lb}
    data["regions"][2].update(provider="aws", gateway=r3_gateway)
    return parse(Fleet, data)


def test_mcs_regions_and_a_load_balancer_region_join_one_super_cluster(tmp_path: Path) -> None:
    port = free_port()
    fleet = _mixed({"mode": "loadBalancer", "address": RENDERED_HOSTS["r3"]}, port)
    as_rendered = {region: nats_config(fleet, fleet.region(region)) for region in RENDERED_HOSTS}
    assert "r3-nats-gateway" not in as_rendered["r1"] + as_rendered["r2"]  # r3 is not on MCS
    assert "clusterset" not in as_rendered["r3"]  # nor can r3 resolve clusterset names
    servers = start_rendered_fabric(tmp_path, fleet, ["r1", "r2", "r3"])  # waits: all linked
    for server in servers:
        server.stop()


def test_a_node_port_region_is_reached_through_one_of_its_node_addresses(tmp_path: Path) -> None:
    port = _node_port()
    dead = "127.0.1.99"  # a node address where nothing listens: the other one is dialled
    gateway = {"mode": "nodePort", "node_port": port, "addresses": [dead, RENDERED_HOSTS["r3"]]}
    fleet = _mixed(gateway, port)
    servers = start_rendered_fabric(tmp_path, fleet, ["r1", "r3"])
    for server in servers:
        server.stop()
