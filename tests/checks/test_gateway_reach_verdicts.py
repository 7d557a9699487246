"""gateway-reach without a lab: which addresses each region dials (the kube target's list,
from the fleet alone) and the verdict on one pair's dial answers and certificates,
table-driven, with certificates made by the lab's own CA code (real X.509, no server).

Between two regions on MCS the NATS gateway dials the peer's clusterset name, so with
gateway TLS that name is what its certificate must name: nats-server's solicited gateway
connection verifies the server certificate against the host of the URL it dials
(server/gateway.go createGateway -> client.go doTLSClientHandshake, ServerName from the
URL's host when the tls block sets none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bcastctl.checks.base import Status
from bcastctl.checks.gateway_reach import NAME, GatewayReached, pair_verdict, tls_judgement
from bcastctl.fleet import Fleet, parse_fleet
from bcastctl.lab.gateway_tls import issue, new_ca
from bcastctl.targets.base import GatewayDial
from bcastctl.targets.kube import gateway_dials

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CLUSTERSET = "europe-west9-nats-gateway.broadcaster.svc.clusterset.local"
CA, CA_KEY = new_ca()
OTHER_CA, OTHER_CA_KEY = new_ca("some other CA")


def _fleet(example: str, gateway_tls: bool) -> Fleet:
    data = yaml.safe_load((EXAMPLES / example).read_text())
    data.setdefault("nats", {}).pop("gateway_tls", None)
    if gateway_tls:
        data["nats"]["gateway_tls"] = {"secret": "bcast-nats-gateway-tls"}
    return parse_fleet(data, example)


def _addresses(fleet: Fleet, region: str) -> list[tuple[str, str, str]]:
    return [(d.peer, d.mode, d.addr) for d in gateway_dials(fleet, region)]


def test_without_gateway_tls_regions_on_mcs_dial_nothing() -> None:
    assert _addresses(_fleet("fleet.yaml", gateway_tls=False), "us-east5") == []


def test_with_gateway_tls_mcs_peers_are_dialled_at_their_clusterset_name() -> None:
    fleet = _fleet("fleet.yaml", gateway_tls=True)
    namespace = fleet.namespace
    assert _addresses(fleet, "us-east5") == [
        (peer, "mcs", f"{peer}-nats-gateway.{namespace}.svc.clusterset.local:7222")
        for peer in ("europe-west9", "asia-southeast1")
    ]


def test_a_mixed_fleet_dials_mcs_peers_by_name_and_the_others_at_their_load_balancer() -> None:
    fleet = _fleet("multicloud.yaml", gateway_tls=True)
    assert _addresses(fleet, "us-east5") == [
        ("europe-west9", "mcs + loadBalancer", f"{CLUSTERSET}:7222"),
        ("us-west-2", "loadBalancer", "gw.us-west-2.bcast.example.com:7222"),
    ]
    assert _addresses(fleet, "us-west-2")[0] == (
        "us-east5",
        "mcs + loadBalancer",
        "34.23.10.20:7222",
    )


MCS_DIAL = GatewayDial("europe-west9", "mcs", CLUSTERSET, 7222)


def _answer(certificate: str | None) -> dict[str, Any]:
    """/api/diag/dial?tls=nats's answer: connected, and the certificate presented."""
    return {"addr": MCS_DIAL.addr, "connected": True, "ms": 1.5, "error": None,
            "certificate": certificate, "tls_error": None}  # fmt: skip


def _certificate(by_other_ca: bool = False, hosts: tuple[str, ...] = (CLUSTERSET,),
                 days: float = 30) -> str:  # fmt: skip
    ca, key = (OTHER_CA, OTHER_CA_KEY) if by_other_ca else (CA, CA_KEY)
    return issue(ca, key, "europe-west9", list(hosts), days)[0]


CASES = [
    ("issued by the fleet's CA for the clusterset name", _certificate(), Status.ok,
     "europe-west9's gateway (mcs) reachable, connect 1.5 ms, TLS ok"),
    ("issued by another CA", _certificate(by_other_ca=True), Status.fail,
     f"europe-west9's gateway (mcs) TLS: {CLUSTERSET}:7222 presents a certificate not issued "
     "by the fleet's gateway CA (issuer CN=some other CA): its gateway handshakes fail"),
    ("names only an address, not the clusterset name", _certificate(hosts=("10.0.0.7",)),
     Status.fail,
     f"europe-west9's gateway (mcs) TLS: {CLUSTERSET}:7222's certificate does not name "
     f"{CLUSTERSET}"),
    ("expires in 7 days", _certificate(days=7), Status.warn,
     f"europe-west9's gateway (mcs) reachable, connect 1.5 ms; TLS: {CLUSTERSET}:7222's "
     "certificate expires in "),
    ("no certificate", None, Status.fail,
     "europe-west9's gateway (mcs) TLS: the gateway presented no certificate"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "certificate", "status", "message"), CASES,
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_an_mcs_pair_is_judged_like_any_other(
    case: str, certificate: str | None, status: Status, message: str
) -> None:
    answer = _answer(certificate)
    judged = [tls_judgement(MCS_DIAL, answer, CA)]
    result = pair_verdict(NAME, "us-east5->europe-west9", [MCS_DIAL], [answer], judged)
    assert (result.status, result.message[: len(message)]) == (status, message)
    finding = GatewayReached.of(result)
    assert finding is not None
    failed_tls = status == Status.fail
    assert (finding.certificate_problem is not None) == failed_tls
    if failed_tls:
        assert finding.certificate_problem is not None
        assert finding.certificate_problem.startswith("TLS: ")
