"""Kube checks through the kube Target against three fake clusters, NATS through the pod proxy.

The clusters are shimmed kmock instances the real deploy code filled; each region's
NATS pod is proxied (API server pod proxy) to a real nats-server of a super-cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from checks_testkit import NatsRegions

from bcastctl.checks.base import Status
from bcastctl.checks.registry import load_checks
from bcastctl.checks.runner import RunOptions, run_checks
from bcastctl.deploy.rollout import DeployOptions, deploy
from bcastctl.errors import ExitCode
from bcastctl.fleet import Fleet, parse_fleet
from bcastctl.targets.kube import KubeTarget
from fakes.clusters import ClusterSet, cluster_set
from fakes.fleets import fleet_document, seed_secrets
from fakes.kube_api import Workloads

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab

NAMES = ["a", "b", "c"]
SELECT = ["^kube-", "^nats-gateways$"]


@pytest.fixture(scope="module")
def nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsRegions]:
    regions = NatsRegions.start(tmp_path_factory.mktemp("nats"), NAMES)
    try:
        yield regions
    finally:
        regions.stop()


def kube_fleet(kubeconfig: Path) -> Fleet:
    document = fleet_document(kubeconfig, regions=NAMES)
    document["nats"] = {"cluster_size": 1}
    for region, address in zip(document["regions"], ["192.0.2.1", "192.0.2.2", None], strict=True):
        region["replicas"] = 1
        region.pop("turn_address", None)
        if address:
            region["turn_address"] = address
    return parse_fleet(document)


@pytest.fixture
def deployed(nats: NatsRegions, tmp_path: Path) -> Iterator[tuple[ClusterSet, Fleet, Path]]:
    with cluster_set(NAMES, backdate_s=3600) as clusters:  # exports long settled
        for name in NAMES:
            seed_secrets(clusters, name)
        kubeconfig = clusters.write_kubeconfig(tmp_path / "kc")
        fleet = kube_fleet(kubeconfig)
        import asyncio

        result = asyncio.run(deploy(fleet, DeployOptions(gate=False, timeout_s=10)))
        assert result.exit_code == 0
        for name in NAMES:
            backend = nats.region(name).monitor
            clusters.call(
                lambda n=name, b=backend: clusters.clusters[n].pod_backends.update(
                    {(fleet.namespace, f"{n}-nats-0", fleet.nats.monitor_port): b}
                )
            )
        yield clusters, fleet, kubeconfig


async def check(fleet: Fleet, **kwargs):
    target = KubeTarget.connect(fleet, **kwargs)
    try:
        checks = [
            c for c in load_checks() if c.name.startswith("kube-") or c.name == "nats-gateways"
        ]
        return await run_checks(target, RunOptions(timeout_s=5, select=SELECT), checks=checks)
    finally:
        await target.close()


def by_check(report) -> dict[tuple[str, str], object]:
    return {(r.check, r.scope): r for r in report.results}


async def test_healthy_clusters_pass_every_kube_check_and_nats_links(deployed):
    _, fleet, _ = deployed
    report = await check(fleet)
    assert report.exit_code == ExitCode.OK, [r.message for r in report.results if r.status != "ok"]
    results = by_check(report)
    for name in NAMES:
        for kube_check in (
            "kube-cluster",
            "kube-workloads",
            "kube-stunner-gateway",
            "kube-mcs",
            "kube-flows",
        ):
            assert results[(kube_check, name)].status == Status.ok
    assert results[("nats-gateways", "a->b")].status == Status.ok  # real NATS via pod proxy
    assert results[("kube-stunner-gateway", "a")].values["address"] == "192.0.2.1"
    assert results[("kube-stunner-gateway", "c")].values["address"] == "203.0.113.10"


async def test_not_ready_statefulset_missing_import_and_no_address_each_fail(deployed):
    clusters, fleet, _ = deployed
    clusters.set_workloads("b", Workloads(not_ready={"b-broadcaster"}))
    clusters.set_workloads("c", Workloads(gateway_address=None))
    clusters.delete("b", "net.gke.io/v1", "serviceimports", fleet.namespace, "a-nats-gateway")
    report = await check(fleet)
    assert report.exit_code == ExitCode.CHECKS_FAILED
    results = by_check(report)
    workloads = results[("kube-workloads", "b")]
    assert workloads.status == Status.fail and "b-broadcaster: 0/1 ready" in workloads.message
    assert workloads.hint
    gateway = results[("kube-stunner-gateway", "c")]
    assert gateway.status == Status.fail and "address: none" in gateway.message
    assert "LoadBalancer" in gateway.hint
    mcs = results[("kube-mcs", "b")]
    assert mcs.status == Status.fail and "ServiceImport a-nats-gateway missing" in mcs.message
    assert mcs.hint
    healthy = [
        ("kube-workloads", "a"),
        ("kube-stunner-gateway", "a"),
        ("kube-mcs", "a"),
        ("kube-mcs", "c"),
        ("kube-workloads", "c"),
    ]
    assert all(results[key].status == Status.ok for key in healthy)


async def test_an_unreachable_cluster_fails_its_region_and_the_others_are_checked(
    deployed, tmp_path: Path
):
    clusters, fleet, _ = deployed
    dead_kubeconfig = clusters.write_kubeconfig(
        tmp_path / "kc-dead", {"c": clusters.unreachable_url()}
    )
    report = await check(fleet, kubeconfig=str(dead_kubeconfig))
    assert report.exit_code == ExitCode.CHECKS_FAILED
    assert "c" in report.unreachable_regions
    assert "Connection refused" in report.unreachable_regions["c"]
    results = by_check(report)
    assert results[("kube-cluster", "c")].status == Status.fail
    assert "region unreachable" in results[("kube-cluster", "c")].message
    for name in ("a", "b"):
        assert results[("kube-cluster", name)].status == Status.ok
        assert results[("kube-workloads", name)].status == Status.ok


async def test_a_missing_import_of_a_fresh_export_is_only_a_warning(tmp_path: Path):
    """MCS takes minutes to import a new export: right after a deploy that is not a failure."""
    with cluster_set(NAMES) as clusters:
        for name in NAMES:
            seed_secrets(clusters, name)
        fleet = kube_fleet(clusters.write_kubeconfig(tmp_path / "kc"))
        assert (await deploy(fleet, DeployOptions(gate=False))).exit_code == 0
        clusters.delete("b", "net.gke.io/v1", "serviceimports", fleet.namespace, "a-nats-gateway")
        target = KubeTarget.connect(fleet)
        try:
            report = await run_checks(target, RunOptions(timeout_s=5, select=["^kube-mcs$"]))
        finally:
            await target.close()
    result = by_check(report)[("kube-mcs", "b")]
    assert result.status == Status.warn and "a-nats-gateway" in result.message


@pytest.mark.parametrize("where", ["before", "after"])
def test_verify_mesh_cli_on_the_kube_target(
    deployed, capsys: pytest.CaptureFixture[str], where: str
):
    """`-o json -f F verify mesh` and `verify mesh -o json --fleet F`: global options anywhere."""
    import json

    from bcastctl.cli.main import run

    _, _, kubeconfig = deployed
    fleet_path = kubeconfig.parent / "fleet.yaml"
    from fakes.fleets import write_fleet

    document = fleet_document(kubeconfig, regions=NAMES)
    document["nats"] = {"cluster_size": 1}
    for region in document["regions"]:
        region["replicas"] = 1
    write_fleet(fleet_path, document)
    command = [
        "verify",
        "mesh",
        "--target",
        "kube",
        "--check",
        "^kube-",
        "--check",
        "^nats-gateways$",
    ]
    if where == "before":
        code = run(["-o", "json", "-f", str(fleet_path), *command])
    else:
        code = run([*command, "-o", "json", "--fleet", str(fleet_path)])
    report = json.loads(capsys.readouterr().out)["result"]
    assert code == 0, [r for r in report["results"] if r["status"] != "ok"]
    assert report["target"] == "kube"
    assert {r["check"] for r in report["results"]} == {
        "kube-cluster",
        "kube-workloads",
        "kube-stunner-gateway",
        "kube-mcs",
        "kube-flows",
        "kube-signalling-entry",
        "nats-gateways",
    }


async def test_a_live_policy_that_blocks_the_api_proxy_fails_kube_flows(deployed):
    """Someone edits the live broadcaster policy back to namespace-only admin: the health
    gate's route (the API server's pod proxy, from kube-system on GKE) is cut; kube-flows
    names the flow, the policy and the port (bcastctl.flows on the live objects)."""
    clusters, fleet, _ = deployed
    admin = fleet.node.admin_port
    ingress = [
        {"ports": [{"protocol": "TCP", "port": fleet.node.signalling_port}]},
        {
            "from": [{"podSelector": {"matchLabels": {"app": "stunner"}}}],
            "ports": [
                {
                    "protocol": "UDP",
                    "port": fleet.node.rtc_port_min,
                    "endPort": fleet.node.rtc_port_max,
                }
            ],
        },
        {"from": [{"podSelector": {}}], "ports": [{"protocol": "TCP", "port": admin}]},
    ]
    clusters.merge_patch(
        "b",
        "networking.k8s.io/v1",
        "networkpolicies",
        fleet.namespace,
        "broadcaster",
        {"spec": {"ingress": ingress}},
        "kubectl-edit",
    )
    report = await check(fleet)
    failed = [r for r in report.results if r.check == "kube-flows" and r.status == Status.fail]
    assert {r.scope for r in failed} == {"b"}
    assert failed[0].message.startswith(
        f"bcastctl -> node admin: TCP {admin} of broadcaster pods blocked by "
        "NetworkPolicy broadcaster"
    )
    # the edit also dropped the rule for the global load balancer's health checks
    assert [r.message.split(":")[0] for r in failed[1:]] == ["Google health checks -> node admin"]
    assert failed[0].hint
    assert by_check(report)[("kube-flows", "a")].status == Status.ok


async def test_the_signalling_entry_is_checked_in_the_config_cluster(deployed):
    """The multi-cluster Gateway (config cluster "a") is Programmed with an address, its
    routes accepted, and every region's signalling ServiceImport exists; the other regions
    say where the entry lives. Region b's import disappears: a warning (not deployed yet,
    or MCS importing); then the load balancer loses its address: a failure naming both."""
    clusters, fleet, _ = deployed
    report = await check(fleet)
    results = by_check(report)
    entry = results[("kube-signalling-entry", "a")]
    assert entry.status == Status.ok, entry.message
    assert entry.message.startswith("https://live.bcast.example.com -> 3 regions at ")
    assert results[("kube-signalling-entry", "b")].status == Status.skip

    clusters.delete("a", "net.gke.io/v1", "serviceimports", fleet.namespace, "b-broadcaster")
    entry = by_check(await check(fleet))[("kube-signalling-entry", "a")]
    assert entry.status == Status.warn
    assert entry.message == "ServiceImport b-broadcaster missing (region b)"

    clusters.set_workloads("a", Workloads(gateway_address=None))
    clusters.merge_patch(
        "a",
        "gateway.networking.k8s.io/v1",
        "gateways",
        fleet.namespace,
        "bcast-signalling",
        {"metadata": {"labels": {"touched": "yes"}}},
        "kubectl-edit",
    )
    report = await check(fleet)
    entry = by_check(report)[("kube-signalling-entry", "a")]
    assert entry.status == Status.fail
    assert "Gateway bcast-signalling not Programmed" in entry.message
    assert "ServiceImport b-broadcaster missing (region b)" in entry.message
    assert entry.hint
