"""Preflight finds unreachable clusters, missing CRDs and missing Secrets before any write."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bcastctl.deploy.preflight import referenced_secrets
from bcastctl.fleet import parse_fleet
from bcastctl.render.manifests import region_manifests
from fakes.clusters import cluster_set
from fakes.fleets import REGIONS, SECRET_VALUE, fleet_document, seed_secrets, write_fleet
from fakes.kube_api import CRDS

STUNNER_CRDS = {name for name in CRDS if "stunner.l7mp.io" in name}


def error_lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.strip()]


def assert_nothing_written(clusters, regions=REGIONS) -> None:
    for region in regions:
        assert clusters.writes(region) == [], region


def test_unreachable_cluster_exits_4_before_any_write(clusters, tmp_path: Path, cli, caplog):
    """One error line and its hint, nothing else: urllib3 must not retry on its own and log
    "Retrying (Retry(total=...))" warnings (which a real run prints to stderr, between the
    progress lines) while bcastctl's own retry loop is what decides."""
    caplog.set_level(logging.WARNING)
    dead = clusters.unreachable_url()
    kubeconfig = clusters.write_kubeconfig(tmp_path / "kc", {REGIONS[1]: dead})
    fleet = write_fleet(tmp_path / "fleet.yaml", fleet_document(kubeconfig))
    code, _, err = cli("-f", str(fleet), "deploy", "--yes", json_output=False)
    assert code == 4
    lines = error_lines(err)
    assert lines[0].startswith("error: preflight: ") and REGIONS[1] in lines[0]
    assert "unreachable (Connection refused)" in lines[0] and "nothing was written" in lines[0]
    assert lines[1].startswith("hint: ") and len(lines) == 2
    assert [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")] == []
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


@pytest.mark.parametrize(
    ("turn_type", "found"),
    [(None, "has no key 'type'"), ("static", "has 'type' other than 'ephemeral'")],
)
def test_turn_secret_without_type_ephemeral_exits_3_with_the_exact_create_command(
    tmp_path: Path, cli, turn_type, found
):
    """STUNner's operator reads the auth type from the Secret's `type` key and ignores
    GatewayConfig.spec.authType; no `type` means `static`, which needs username/password,
    and the Gateways are invalidated (stunner docs/AUTH.md: "If no `type` is set then STUNner
    defaults to `static`"; stunner-gateway-operator internal/renderer/auth_render.go)."""
    with cluster_set(REGIONS) as clusters:
        for region in REGIONS:
            seed_secrets(
                clusters, region, turn_type_value=turn_type if region == REGIONS[0] else "ephemeral"
            )
        fleet = write_fleet(
            tmp_path / "fleet.yaml", fleet_document(clusters.write_kubeconfig(tmp_path / "kc"))
        )
        code, out, err = cli("-f", str(fleet), "deploy", "--yes", json_output=False)
        assert code == 3
        lines = error_lines(err)
        assert f"error: preflight: {REGIONS[0]}: Secret broadcaster/bcast-turn-secret " in lines[0]
        assert found in lines[0]
        assert (
            f"kubectl --context kmock-{REGIONS[0]} -n broadcaster create secret generic "
            "bcast-turn-secret --from-literal=type=ephemeral --from-file=secret=<file>"
        ) in lines[1]
        assert SECRET_VALUE not in out + err
        assert_nothing_written(clusters)


@pytest.mark.parametrize(
    ("version", "code"), [("v1.33.5-gke.1080000", 3), ("v1.34.1-gke.2190000", 0)]
)
def test_gke_too_old_for_a_tcp_and_udp_turn_service_is_refused(tmp_path: Path, cli, version, code):
    """GKE provisions a LoadBalancer Service with TCP and UDP on one address only from
    1.34.1-gke.2190000, with the backend-service L4 LB (cloud.google.com/l4-rbs or the
    l4-regional-external class): cloud.google.com/kubernetes-engine/docs/how-to/mixed-protocol-lb.
    STUNner copies the Gateway's annotations onto the Service it creates
    (stunner-gateway-operator internal/renderer/service_util.go)."""
    with cluster_set(REGIONS, versions={REGIONS[2]: version}) as clusters:
        for region in REGIONS:
            seed_secrets(clusters, region)
        fleet = write_fleet(
            tmp_path / "fleet.yaml", fleet_document(clusters.write_kubeconfig(tmp_path / "kc"))
        )
        got, _, err = cli("-f", str(fleet), "deploy", "--dry-run", "--yes", json_output=False)
        assert got == code, err
        if code:
            line = error_lines(err)[0]
            assert f"{REGIONS[2]}: GKE {version} cannot provision the TURN Service" in line
            assert_nothing_written(clusters)


def test_monitor_enabled_needs_the_prometheus_operator_crds(tmp_path: Path, cli):
    """The monitor region's PrometheusRule and ServiceMonitor are prometheus-operator kinds
    (monitoring.coreos.com/v1); a cluster without them is refused before any write."""
    with cluster_set(REGIONS) as clusters:
        for region in REGIONS:
            seed_secrets(clusters, region)
        document = fleet_document(clusters.write_kubeconfig(tmp_path / "kc"))
        document["monitor"] = {"enabled": True, "region": REGIONS[1]}
        fleet = write_fleet(tmp_path / "fleet.yaml", document)
        code, _, err = cli("-f", str(fleet), "deploy", "--yes", json_output=False)
        assert code == 3
        lines = error_lines(err)
        assert REGIONS[1] in lines[0] and "PrometheusRule, ServiceMonitor" in lines[0]
        assert "prometheus-operator CRDs" in lines[1]
        assert_nothing_written(clusters)


def test_a_secret_mounted_as_a_volume_is_checked_too(tmp_path: Path, cli):
    """The monitor mounts its kubeconfig Secret as a volume: a missing one is named."""
    with cluster_set(REGIONS) as clusters:
        for region in REGIONS:
            seed_secrets(clusters, region, skip=("bcast-monitor-kubeconfig",))
        document = fleet_document(clusters.write_kubeconfig(tmp_path / "kc"))
        document["monitor"] = {"enabled": True, "region": REGIONS[1]}
        fleet = write_fleet(tmp_path / "fleet.yaml", document)
        parsed = parse_fleet(document)
        docs = region_manifests(parsed, parsed.region(REGIONS[1])).resolved
        assert ("broadcaster", "bcast-monitor-kubeconfig") in referenced_secrets(docs)
        assert cli("-f", str(fleet), "deploy", "--yes", json_output=False)[0] == 3
