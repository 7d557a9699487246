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
