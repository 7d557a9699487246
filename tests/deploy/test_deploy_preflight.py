"""Preflight finds unreachable clusters, missing CRDs and missing Secrets before any write."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakes.clusters import cluster_set
from fakes.fleets import REGIONS, SECRET_VALUE, fleet_document, seed_secrets, write_fleet
from fakes.kube_api import CRDS

STUNNER_CRDS = {name for name in CRDS if "stunner.l7mp.io" in name}


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def assert_nothing_written(clusters, regions=REGIONS) -> None:
    for region in regions:
        assert clusters.writes(region) == [], region


def test_unreachable_cluster_exits_4_before_any_write(clusters, tmp_path: Path, cli):
    dead = clusters.unreachable_url()
    kubeconfig = clusters.write_kubeconfig(tmp_path / "kc", {REGIONS[1]: dead})
    fleet = write_fleet(tmp_path / "fleet.yaml", fleet_document(kubeconfig))
    code, _, err = cli("-f", str(fleet), "deploy", "--yes", json_output=False)
    assert code == 4
    lines = error_lines(err)
    assert lines[0].startswith("error: preflight: ") and REGIONS[1] in lines[0]
    assert "unreachable (Connection refused)" in lines[0] and "nothing was written" in lines[0]
    assert lines[1].startswith("hint: ") and len(lines) == 2
    assert_nothing_written(clusters, [REGIONS[0], REGIONS[2]])


def test_missing_crd_exits_3_with_the_install_command(tmp_path: Path, cli):
    crds = {REGIONS[2]: set(CRDS) - STUNNER_CRDS}
    with cluster_set(REGIONS, crds=crds) as clusters:
        for region in REGIONS:
            seed_secrets(clusters, region)
        fleet = write_fleet(
            tmp_path / "fleet.yaml", fleet_document(clusters.write_kubeconfig(tmp_path / "kc"))
        )
        code, _, err = cli("-f", str(fleet), "deploy", "--yes", json_output=False)
        assert code == 3
        lines = error_lines(err)
        assert REGIONS[2] in lines[0] and "GatewayConfig, UDPRoute" in lines[0]
        assert "CRD missing" in lines[0]
        assert "helm install stunner-gateway-operator" in lines[1]
        assert_nothing_written(clusters)


@pytest.mark.parametrize("output", ["table", "json"])
def test_missing_secret_exits_3_and_never_prints_secret_values(tmp_path: Path, cli, output):
    with cluster_set(REGIONS) as clusters:
        for region in REGIONS:
            skip = ("bcast-whip-token",) if region == REGIONS[1] else ()
            seed_secrets(clusters, region, skip=skip)
        fleet = write_fleet(
            tmp_path / "fleet.yaml", fleet_document(clusters.write_kubeconfig(tmp_path / "kc"))
        )
        code, out, err = cli("-o", output, "-f", str(fleet), "deploy", "--yes", json_output=False)
        assert code == 3
        lines = error_lines(err)
        assert f"{REGIONS[1]}: Secret broadcaster/bcast-whip-token is missing" in lines[0]
        assert "create secret generic bcast-whip-token" in lines[1]
        assert f"--context kmock-{REGIONS[1]}" in lines[1]
        assert SECRET_VALUE not in out + err
        assert_nothing_written(clusters)


def test_bad_timeout_and_context_with_many_regions_are_usage_errors(clusters, fleet_file, cli):
    fleet = str(fleet_file())
    code, _, err = cli("-f", fleet, "deploy", "--yes", "--timeout", "soon", json_output=False)
    assert code == 2 and "--timeout 'soon'" in err
    code, _, err = cli("-f", fleet, "deploy", "--yes", "--context", "x", json_output=False)
    assert code == 2 and "--context applies to one region only" in err
    code, _, err = cli("-f", fleet, "deploy", "--region", "mars", "--yes", json_output=False)
    assert code == 3 and "unknown region 'mars'" in err
    assert_nothing_written(clusters)


def test_deploy_without_yes_refuses_when_not_interactive(clusters, fleet_file, cli):
    code, _, err = cli("-f", str(fleet_file()), "deploy", json_output=False)
    assert code == 2 and "without --yes" in err
    assert_nothing_written(clusters)


def test_a_too_old_cluster_fails_preflight(tmp_path: Path, cli):
    with cluster_set(REGIONS, versions={REGIONS[0]: "v1.24.17"}) as clusters:
        for region in REGIONS:
            seed_secrets(clusters, region)
        fleet = write_fleet(
            tmp_path / "fleet.yaml", fleet_document(clusters.write_kubeconfig(tmp_path / "kc"))
        )
        code, _, err = cli("-f", str(fleet), "deploy", "--yes", json_output=False)
        assert code == 3
        assert f"{REGIONS[0]}: Kubernetes v1.24.17 is too old (need 1.26+)" in err
        assert_nothing_written(clusters)


def test_two_regions_in_one_cluster_are_refused(clusters, tmp_path: Path, cli):
    kubeconfig = clusters.write_kubeconfig(tmp_path / "kc")
    document = fleet_document(kubeconfig)
    document["regions"][2]["cluster"]["context"] = f"kmock-{REGIONS[0]}"
    fleet = write_fleet(tmp_path / "fleet.yaml", document)
    code, _, err = cli("-f", str(fleet), "deploy", "--yes", json_output=False)
    assert code == 3
    assert f"regions {REGIONS[0]} and {REGIONS[2]} point at the same cluster" in err
    assert_nothing_written(clusters)
