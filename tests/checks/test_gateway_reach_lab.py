"""verify mesh on the lab running examples/multicloud.yaml (two GKE regions on MCS, one EKS
region over a load balancer) and examples/do.yaml (two regions over NodePorts, 117 ms one
way): gateway-reach dials, from inside every region (a node's /api/diag/dial), the address
each peer outside MCS is reached at - in the lab the delay link standing for the node port
or load balancer - and names each region's mode; mcs-dns checks only the MCS pairs. A cut
link (the lab's linkd refuses new connections on it) fails the pair, naming the mode.
Both fleets here have gateway TLS, so the MCS pairs are dialled too, at their clusterset
names (which the lab's DNS server answers), and every certificate is judged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from checks_testkit import by_scope, cli, lab_fleet, running_lab, verify

from bcastctl.lab.gateway_tls import issue, new_ca

pytestmark = pytest.mark.slow  # starts a lab

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
GKE_A, GKE_B, EKS = "us-east5", "europe-west9", "us-west-2"


def verify_until(state_dir: Path, done: Callable[[dict[str, Any]], bool], *args: str) -> Any:
    deadline = time.monotonic() + 30
    while True:
        _, report = verify(state_dir, *args)
        if done(report) or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


@pytest.fixture(scope="module")
def multicloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("multicloud-lab")
    fleet = lab_fleet(directory / "multicloud.yaml", base=EXAMPLES / "multicloud.yaml")
    with running_lab(fleet, directory / "state") as state_dir:
        yield state_dir


def test_mixed_fleet_passes_and_each_pair_is_checked_the_way_its_mode_needs(
    multicloud: Path,
) -> None:
    code, report = verify(multicloud)
    assert code == 0, [r for r in report["results"] if r["status"] == "fail"]
    reach = by_scope(report, "gateway-reach")
    outside = {f"{EKS}->{GKE_A}", f"{EKS}->{GKE_B}", f"{GKE_A}->{EKS}", f"{GKE_B}->{EKS}"}
    over_mcs = {f"{GKE_A}->{GKE_B}", f"{GKE_B}->{GKE_A}"}  # dialled for their certificates
    assert {s for s, r in reach.items() if r["status"] == "ok"} == outside | over_mcs
    assert reach[f"{GKE_A}->{GKE_B}"]["message"].startswith(
        f"{GKE_B}'s gateway (mcs + loadBalancer) reachable, connect "
    )
    assert reach[f"{GKE_A}->{GKE_B}"]["message"].endswith(", TLS ok")
    assert (
        f"{GKE_A}'s gateway (mcs + loadBalancer) reachable" in reach[f"{EKS}->{GKE_A}"]["message"]
    )
    assert f"{EKS}'s gateway (loadBalancer) reachable" in reach[f"{GKE_A}->{EKS}"]["message"]
    assert reach[f"{EKS}->{GKE_A}"]["values"]["mode"] == "mcs + loadBalancer"
    dns = by_scope(report, "mcs-dns")
    assert dns[f"{GKE_A}->{GKE_B}"]["status"] == dns[f"{GKE_B}->{GKE_A}"]["status"] == "ok"
    assert (
        dns[EKS]["status"] == "skip"
        and "(loadBalancer) has no peer over MCS" in dns[EKS]["message"]
    )
    assert not any(EKS in scope for scope in dns if "->" in scope)


def test_a_cut_link_fails_gateway_reach_for_that_pair(multicloud: Path) -> None:
    assert (
        cli("lab", "fault", "cut-link", EKS, GKE_A, "--state-dir", str(multicloud)).returncode == 0
    )
    try:
        report = verify_until(
            multicloud,
            lambda r: by_scope(r, "gateway-reach")[f"{EKS}->{GKE_A}"]["status"] == "fail",
            "--check",
            "gateway-reach",
        )
    finally:
        healed = cli("lab", "fault", "heal-link", EKS, GKE_A, "--state-dir", str(multicloud))
        assert healed.returncode == 0
    reach = by_scope(report, "gateway-reach")
    failed = reach[f"{EKS}->{GKE_A}"]
    assert failed["status"] == "fail"
    assert failed["message"].startswith(f"{GKE_A}'s gateway (mcs + loadBalancer) unreachable: ")
    assert reach[f"{EKS}->{GKE_B}"]["status"] == "ok"


def test_node_port_fleet_passes_with_its_wan_latency(tmp_path: Path) -> None:
    fleet = lab_fleet(tmp_path / "do.yaml", base=EXAMPLES / "do.yaml")
    with running_lab(fleet, tmp_path / "state") as state_dir:
        # lab up is ready only once nats-server has measured every gateway RTT
        code, report = verify(state_dir)
    assert code == 0, [r for r in report["results"] if r["status"] == "fail"]
    reach = by_scope(report, "gateway-reach")
    assert reach["nyc1->sgp1"]["status"] == reach["sgp1->nyc1"]["status"] == "ok"
    assert "sgp1's gateway (nodePort) reachable" in reach["nyc1->sgp1"]["message"]
    links = by_scope(report, "nats-gateways")
    rtt_ms = float(links["nyc1->sgp1"]["values"]["rtt_ms"])
    assert 234 <= rtt_ms < 260, rtt_ms  # 2 x 117 ms one way, as the lab emulates it


# --- gateway TLS (examples/multicloud.yaml sets nats.gateway_tls; the lab made its CA) ------


def _tls_dir(state_dir: Path, region: str) -> Path:
    (found,) = (state_dir / "pods").glob(f"{region}-nats-*/etc/nats-gateway-tls")
    return found


def _reissue(state_dir: Path, region: str, days: float, other_ca: bool) -> dict[str, str]:
    """Give `region`'s NATS a new certificate for the same addresses (by the lab CA, or by
    another CA) and restart it; returns the files it had, to put back."""
    from cryptography import x509

    directory = _tls_dir(state_dir, region)
    before = {name: (directory / name).read_text() for name in ("tls.crt", "tls.key")}
    current = x509.load_pem_x509_certificate(before["tls.crt"].encode())
    sans = current.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    hosts = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
    hosts += sans.get_values_for_type(x509.DNSName)  # a region on MCS: its clusterset name
    if other_ca:
        ca, ca_key = new_ca("some other CA")
    else:
        ca = (state_dir / "gateway-tls" / "ca.crt").read_text()
        ca_key = (state_dir / "gateway-tls" / "ca.key").read_text()
    cert, key = issue(ca, ca_key, region, hosts, days)
    _install(state_dir, region, {"tls.crt": cert, "tls.key": key})
    return before


def _install(state_dir: Path, region: str, files: dict[str, str]) -> None:
    directory = _tls_dir(state_dir, region)
    for name, content in files.items():
        (directory / name).write_text(content)
    for step in ("kill-nats", "restart-nats"):
        done = cli("lab", "fault", step, region, "--state-dir", str(state_dir))
        assert done.returncode == 0, done.stderr


def test_a_certificate_from_another_ca_fails_the_gateway_check_naming_tls(
    multicloud: Path,
) -> None:
    original = _reissue(multicloud, EKS, 30, other_ca=True)
    try:
        report = verify_until(
            multicloud,
            lambda r: by_scope(r, "gateway-reach")[f"{GKE_A}->{EKS}"]["status"] == "fail",
        )
    finally:
        _install(multicloud, EKS, original)
    reach = by_scope(report, "gateway-reach")
    for dialler in (GKE_A, GKE_B):
        failed = reach[f"{dialler}->{EKS}"]
        assert failed["status"] == "fail", failed
        assert "TLS: " in failed["message"]
        assert "not issued by the fleet's gateway CA (issuer CN=some other CA)" in failed["message"]
    links = by_scope(report, "nats-gateways")
    assert links[f"{GKE_A}->{EKS}"]["status"] == "fail"  # NATS itself refuses the link


def test_a_certificate_expiring_in_7_days_gives_a_warning(multicloud: Path) -> None:
    original = _reissue(multicloud, EKS, 7, other_ca=False)

    def settled(report: dict[str, Any]) -> bool:  # the restarted NATS is linked again
        warned = by_scope(report, "gateway-reach")[f"{GKE_A}->{EKS}"]["status"] == "warn"
        return warned and not [r for r in report["results"] if r["status"] == "fail"]

    try:
        report = verify_until(multicloud, settled)
    finally:
        _install(multicloud, EKS, original)
    warned = by_scope(report, "gateway-reach")[f"{GKE_A}->{EKS}"]
    assert warned["status"] == "warn"
    assert re.search(r"TLS: [0-9.:]+'s certificate expires in (6\.9|7\.0) days", warned["message"])
    assert [r for r in report["results"] if r["status"] == "fail"] == []  # a warning only


# --- two regions on MCS only, with gateway TLS (examples/lab.yaml's first two) --------------

MCS_A, MCS_B = "us-east5", "europe-west9"


@pytest.fixture(scope="module")
def mcs_only(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("mcs-tls-lab")
    data = yaml.safe_load((EXAMPLES / "lab.yaml").read_text())
    data["regions"] = [r for r in data["regions"] if r["name"] in (MCS_A, MCS_B)]
    data["lab"]["latency"] = [
        link for link in data["lab"]["latency"] if set(link["between"]) == {MCS_A, MCS_B}
    ]
    data.setdefault("nats", {})["gateway_tls"] = {"secret": "bcast-nats-gateway-tls"}
    base = directory / "base.yaml"
    base.write_text(yaml.safe_dump(data))
    with running_lab(lab_fleet(directory / "fleet.yaml", base=base), directory / "state") as state:
        yield state


def test_mcs_pairs_with_gateway_tls_are_dialled_at_their_clusterset_name(
    mcs_only: Path,
) -> None:
    code, report = verify(mcs_only)
    assert code == 0, [r for r in report["results"] if r["status"] == "fail"]
    reach = by_scope(report, "gateway-reach")
    assert {s: r["status"] for s, r in reach.items()} == {
        f"{MCS_A}->{MCS_B}": "ok",
        f"{MCS_B}->{MCS_A}": "ok",
    }
    assert reach[f"{MCS_A}->{MCS_B}"]["message"].startswith(f"{MCS_B}'s gateway (mcs) reachable")
    assert reach[f"{MCS_A}->{MCS_B}"]["message"].endswith(", TLS ok")


def test_an_mcs_region_certificate_from_another_ca_is_the_root_cause(mcs_only: Path) -> None:
    """europe-west9's NATS gets a certificate for the same names from another CA: NATS
    refuses the links both ways (mutual TLS), gateway-reach says why, and the root cause
    is the certificate, explaining the gateway link failures."""
    original = _reissue(mcs_only, MCS_B, 30, other_ca=True)
    pair_ab, pair_ba = f"{MCS_A}->{MCS_B}", f"{MCS_B}->{MCS_A}"

    def settled(report: dict[str, Any]) -> bool:
        links = by_scope(report, "nats-gateways")
        failed = by_scope(report, "gateway-reach")[pair_ab]["status"] == "fail"
        return failed and links[pair_ab]["status"] == links[pair_ba]["status"] == "fail"

    try:
        report = verify_until(mcs_only, settled)
    finally:
        _install(mcs_only, MCS_B, original)
    failed = by_scope(report, "gateway-reach")[pair_ab]
    assert failed["status"] == "fail", failed
    name = f"{MCS_B}-nats-gateway.broadcaster.svc.clusterset.local"
    assert failed["message"].startswith(
        f"{MCS_B}'s gateway (mcs) TLS: {name}:7222 presents a certificate not issued by the "
        "fleet's gateway CA (issuer CN=some other CA)"
    ), failed["message"]
    links = by_scope(report, "nats-gateways")
    assert links[pair_ab]["status"] == links[pair_ba]["status"] == "fail"
    (cause,) = [c for c in report["root_causes"] if c["layer"] == "tls"]
    assert cause["cause"].startswith(
        f"the NATS gateway certificate of {MCS_B} fails its peers' TLS"
    )
    assert "not issued by the fleet's gateway CA" in cause["cause"]
    for explained in (
        f"gateway-reach/{pair_ab}",
        f"nats-gateways/{pair_ab}",
        f"nats-gateways/{pair_ba}",
    ):
        assert explained in cause["explains"]
    assert report["root_causes"] == [cause]  # no "NATS gateway link ... is down" beside it
