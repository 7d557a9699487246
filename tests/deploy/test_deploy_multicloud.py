"""deploy of examples/multicloud.yaml to three fake clusters: the two GKE regions through
one kubeconfig, the EKS region through its own (`regions[].cluster.kubeconfig`, a context
the first file does not have), which has no MCS CRDs. Each region gets its provider's
load-balancer annotations (render/reach.py cites the providers' docs), ServiceExports go
only to the MCS regions, and the kube gate passes (kube-mcs skips the EKS region)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fakes.clusters import ClusterSet, applied_kinds, cluster_set
from fakes.fleets import EXAMPLES, seed_secrets, write_fleet
from fakes.kube_api import CRDS

GKE_A, GKE_B, EKS = "us-east5", "europe-west9", "us-west-2"
GATE = ("--gate-check", "^kube-")
AWS_NLB = {
    "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
    "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
}


@pytest.fixture
def clusters() -> Iterator[ClusterSet]:
    no_mcs = {key for key in CRDS if not key.startswith("net.gke.io/")}
    with cluster_set([GKE_A, GKE_B, EKS], crds={EKS: no_mcs}) as running:
        for name in running.names:
            seed_secrets(running, name)
        yield running


def _split_kubeconfigs(clusters: ClusterSet, tmp_path: Path) -> tuple[Path, Path]:
    """(the GKE regions' kubeconfig, the EKS region's own with context eks-us-west-2)."""
    full = yaml.safe_load(clusters.write_kubeconfig(tmp_path / "all").read_text())

    def only(names: list[str], rename: dict[str, str]) -> dict[str, Any]:
        contexts = [
            {"name": rename.get(c["name"], c["name"]), "context": c["context"]}
            for c in full["contexts"]
            if c["context"]["cluster"] in names
        ]
        clusters_ = [c for c in full["clusters"] if c["name"] in names]
        return {**full, "clusters": clusters_, "contexts": contexts,
                "current-context": contexts[0]["name"]}  # fmt: skip

    gke = tmp_path / "gke-kubeconfig"
    gke.write_text(yaml.safe_dump(only([GKE_A, GKE_B], {})))
    eks = tmp_path / "eks-kubeconfig"
    eks.write_text(yaml.safe_dump(only([EKS], {f"kmock-{EKS}": "eks-us-west-2"})))
    return gke, eks


@pytest.fixture
def fleet(clusters: ClusterSet, tmp_path: Path) -> Path:
    gke, eks = _split_kubeconfigs(clusters, tmp_path)
    document = yaml.safe_load((EXAMPLES / "multicloud.yaml").read_text())
    for region in document["regions"]:
        if region["provider"] == "gke":
            region["cluster"] = {"context": f"kmock-{region['name']}", "kubeconfig": str(gke)}
        else:
            region["cluster"] = {"context": "eks-us-west-2", "kubeconfig": str(eks)}
    document["rollout"]["timeout_s"] = 20
    return write_fleet(tmp_path / "multicloud.yaml", document)


def test_each_region_gets_its_providers_annotations(clusters, fleet, cli) -> None:
    for region in clusters.names:  # the example's gateways are mutual TLS
        seed_tls(clusters, region, 90)
    code, result, err = cli("-f", str(fleet), "deploy", "--yes", *GATE)
    assert code == 0, (result, err)
    assert [r["state"] for r in result["regions"]] == ["deployed"] * 3
    assert all(r["gate"] == "passed" for r in result["regions"])

    eks_gateway = clusters.live(EKS, "services", "broadcaster", f"{EKS}-nats-gateway")
    assert eks_gateway["spec"]["type"] == "LoadBalancer"
    assert eks_gateway["metadata"]["annotations"] == AWS_NLB
    eks_turn = clusters.live(EKS, "gateways", "broadcaster", f"{EKS}-turn-gateway")
    assert AWS_NLB.items() <= eks_turn["metadata"]["annotations"].items()
    assert "cloud.google.com/l4-rbs" not in eks_turn["metadata"]["annotations"]
    assert "serviceexports" not in applied_kinds(clusters.writes(EKS))

    for region in (GKE_A, GKE_B):
        turn = clusters.live(region, "gateways", "broadcaster", f"{region}-turn-gateway")
        assert turn["metadata"]["annotations"]["cloud.google.com/l4-rbs"] == "enabled"
        assert not any(key.startswith("service.beta.kubernetes.io/aws")
                       for key in turn["metadata"]["annotations"])  # fmt: skip
        gateway = clusters.live(region, "services", "broadcaster", f"{region}-nats-gateway")
        assert gateway["spec"]["type"] == "LoadBalancer"  # for the EKS region (external)
        assert "serviceexports" in applied_kinds(clusters.writes(region))


# --- gateway TLS (fleet.nats.gateway_tls): preflight of the Secret --------------------------

TLS_SECRET = "bcast-nats-gateway-tls"


def _pem_pair(days: float, ca: tuple[Any, Any] | None = None) -> tuple[bytes, Any, Any]:
    """(certificate PEM, certificate, key): self-signed (a CA) or signed by `ca`, valid
    from a day ago until `days` from now."""
    from datetime import UTC, datetime, timedelta

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import Encoding
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ca" if ca is None else "gw")])
    issuer, issuer_key = (ca[0].subject, ca[1]) if ca is not None else (name, key)
    now = datetime.now(tz=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .sign(issuer_key, hashes.SHA256())
    )
    return cert.public_bytes(Encoding.PEM), cert, key


def seed_tls(clusters: ClusterSet, cluster: str, days: float) -> None:
    import base64

    ca_pem, ca_cert, ca_key = _pem_pair(365)
    cert_pem, _, _ = _pem_pair(days, (ca_cert, ca_key))

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    clusters.seed(
        cluster,
        "secrets",
        "broadcaster",
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "type": "kubernetes.io/tls",
            "metadata": {"name": TLS_SECRET, "namespace": "broadcaster"},
            "data": {"tls.crt": b64(cert_pem), "tls.key": b64(b"key"), "ca.crt": b64(ca_pem)},
        },
    )


def _with_tls(fleet: Path) -> Path:
    document = yaml.safe_load(fleet.read_text())
    document["nats"]["gateway_tls"] = {"secret": TLS_SECRET}
    return write_fleet(fleet, document)


def test_preflight_refuses_a_missing_gateway_tls_secret(clusters, fleet, cli) -> None:
    for region in (GKE_A, GKE_B):
        seed_tls(clusters, region, 90)
    code, _, err = cli("-f", str(_with_tls(fleet)), "deploy", "--yes", *GATE)
    assert code == 3
    assert f"preflight: {EKS}: gateway TLS Secret broadcaster/{TLS_SECRET} is missing" in err
    assert "nothing was written" in err
    assert "--type=kubernetes.io/tls --from-file=tls.crt=" in err  # the hint
    assert all(clusters.writes(region, include_dry_run=False) == [] for region in clusters.names)


def test_preflight_refuses_an_expired_certificate_and_warns_within_14_days(
    clusters, fleet, cli
) -> None:
    seed_tls(clusters, GKE_A, 90)
    seed_tls(clusters, GKE_B, 7)  # expires in 7 days: a warning, the deploy goes on
    seed_tls(clusters, EKS, -0.5)  # expired half a day ago
    tls_fleet = _with_tls(fleet)
    code, _, err = cli("-f", str(tls_fleet), "deploy", "--yes", *GATE)
    assert code == 3 and f"{EKS}: gateway TLS Secret broadcaster/{TLS_SECRET} " in err
    assert "tls.crt expired on" in err

    seed_tls(clusters, EKS, 90)
    code, result, err = cli("-f", str(tls_fleet), "deploy", "--yes", *GATE)
    assert code == 0, err
    warnings = {r["region"]: r["warnings"] for r in result["regions"]}
    assert warnings[GKE_A] == warnings[EKS] == []
    (warning,) = warnings[GKE_B]
    assert warning.startswith(
        f"gateway TLS Secret broadcaster/{TLS_SECRET}: tls.crt expires in 7.0 days"
    )
