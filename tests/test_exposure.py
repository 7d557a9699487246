"""The fleet's per-region networking (bcastctl/exposure.py): what cannot work is refused
with one line naming the key path."""

from __future__ import annotations

from typing import Any

import pytest

from bcastctl.errors import ConfigError
from bcastctl.fleet import parse_fleet


def _fleet(*regions: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "f", "image": "example/node:1", "regions": list(regions), **extra}


def _region(name: str, **extra: Any) -> dict[str, Any]:
    return {"name": name, "geo": {"lat": 0, "lon": 0}, **extra}


LB = {"mode": "loadBalancer", "address": "203.0.113.7", "public": True}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            _fleet(_region("a", provider="aws")),
            "regions[0].gateway.mode: mcs needs GKE multi-cluster services (provider is aws)",
        ),
        (
            _fleet(_region("a"), _region("b", provider="aws", gateway=LB)),
            "regions[0].gateway.external: required: b cannot resolve clusterset names",
        ),
        (
            _fleet(
                _region(
                    "a", gateway={"mode": "nodePort", "node_port": 80, "addresses": ["10.0.0.1"]}
                )
            ),
            "regions[0].gateway.node_port: must be at least 30000",
        ),
        (
            _fleet(_region("a", gateway={**LB, "address": "not an address!"})),
            "regions[0].gateway.address: not an IP address or DNS name",
        ),
        (
            _fleet(
                _region(
                    "a",
                    gateway={"mode": "nodePort", "node_port": 30722, "addresses": ["10.0.0.1"] * 2},
                )
            ),
            "regions[0].gateway.addresses: an address is given twice",
        ),
        (
            _fleet(
                _region("a", gateway={"mode": "mcs", "external": LB}),
                _region("b", gateway=LB),
                nats={"gateway_tls": {"secret": "tls"}},
                signalling={
                    "host": "live.example.com",
                    "config_region": "a",
                    "certificate_map": "m",
                },
            ),
            "signalling: the multi-cluster Gateway reaches MCS regions only; b is not on MCS",
        ),
        (
            _fleet(_region("a", provider="aws", gateway=LB)),
            "regions[0].gateway.public: a gateway on a public address crosses a network "
            "nobody in the fleet owns; set nats.gateway_tls (mutual TLS)",
        ),
    ],
)
def test_networking_that_cannot_work_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_fleet(data, "fleet.yaml")
    assert f"fleet.yaml: {message}" in str(caught.value)


def test_an_all_mcs_fleet_needs_no_external_address() -> None:
    fleet = parse_fleet(_fleet(_region("a"), _region("b")))
    assert [region.gateway.mode for region in fleet.regions] == ["mcs", "mcs"]
    assert [region.provider for region in fleet.regions] == ["gke", "gke"]
