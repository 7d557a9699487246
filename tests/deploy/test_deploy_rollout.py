"""deploy against three fake clusters: order, wait, gate, unchanged re-runs, rollback on failure."""

from __future__ import annotations

import re
from pathlib import Path

from fakes.clusters import ClusterSet, applied_kinds
from fakes.fleets import REGIONS
from fakes.kube_api import Workloads

GATE = ("--gate-check", "^kube-")
V1 = "ghcr.io/example/bcast-node:1.0.0"
V2 = "ghcr.io/example/bcast-node:2.0.0"


def broadcaster_image(clusters: ClusterSet, region: str) -> str:
    sts = clusters.live(region, "statefulsets", "broadcaster", f"{region}-broadcaster")
    return str(sts["spec"]["template"]["spec"]["containers"][0]["image"])


def test_three_regions_deploy_in_order_then_a_rerun_writes_nothing(clusters, fleet_file, cli):
    fleet = fleet_file(image=V1)
    code, result, _ = cli("-f", str(fleet), "deploy", "--yes", *GATE)
    assert code == 0
    assert [r["region"] for r in result["regions"]] == REGIONS  # canary first
    for row in result["regions"]:
        assert row["state"] == "deployed" and row["gate"] == "passed" and row["revision"] == 1
        assert broadcaster_image(clusters, row["region"]) == V1
    kinds = applied_kinds(clusters.writes(REGIONS[1], include_dry_run=False))
    assert kinds.index("namespaces") < kinds.index("serviceaccounts") < kinds.index("statefulsets")
    assert kinds.index("statefulsets") < kinds.index("gateways") < kinds.index("serviceexports")
    assert kinds[-1] == "configmaps"  # the revision record, after the gate

    before = {region: len(clusters.writes(region)) for region in REGIONS}
    code, result, _ = cli("-f", str(fleet), "deploy", "--yes", *GATE)
    assert code == 0
    assert [r["state"] for r in result["regions"]] == ["unchanged"] * 3
    assert {region: len(clusters.writes(region)) for region in REGIONS} == before


def test_a_region_that_never_gets_ready_is_rolled_back_and_the_rollout_stops(
    clusters, fleet_file, cli
):
    fleet = fleet_file(image=V1)
    assert cli("-f", str(fleet), "deploy", "--yes", *GATE)[0] == 0
    bad_region, untouched = REGIONS[1], REGIONS[2]
    clusters.set_workloads(bad_region, Workloads(not_ready_images={V2}))
    writes_untouched = len(clusters.writes(untouched))

    fleet = fleet_file(image=V2)
    code, result, _ = cli("-f", str(fleet), "deploy", "--yes", "--timeout", "1s", *GATE)
    assert code == 1
    states = {r["region"]: r for r in result["regions"]}
    assert states[REGIONS[0]]["state"] == "deployed"
    assert broadcaster_image(clusters, REGIONS[0]) == V2
    failed = states[bad_region]
    assert failed["state"] == "rolled-back" and failed["rolled_back_to"] == 1
    assert f"{bad_region}-broadcaster: 0/2 ready" in failed["failure"]
    assert broadcaster_image(clusters, bad_region) == V1
    assert states[untouched]["state"] == "not-started"
    assert len(clusters.writes(untouched)) == writes_untouched
    assert broadcaster_image(clusters, untouched) == V1


def test_the_table_says_what_failed_and_what_was_rolled_back(clusters, fleet_file, cli):
    assert cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", *GATE)[0] == 0
    clusters.set_workloads(REGIONS[0], Workloads(not_ready_images={V2}))
    code, out, _ = cli(
        "--no-color",
        "-f",
        str(fleet_file(image=V2)),
        "deploy",
        "--yes",
        "--timeout",
        "0.5",
        *GATE,
        json_output=False,
    )
    assert code == 1
    assert "rolled-back" in out and "back to 1" in out
    assert "rollout not done after 0.5 s" in out
    assert "not-started" in out


def test_dry_run_writes_nothing_and_prints_a_diff(clusters, fleet_file, cli):
    assert cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", *GATE)[0] == 0
    persisted = {region: clusters.writes(region, include_dry_run=False) for region in REGIONS}

    code, out, _ = cli(
        "--no-color", "-f", str(fleet_file(image=V2)), "deploy", "--dry-run", json_output=False
    )
    assert code == 0
    assert re.search(rf"^-\s+image: {V1}$", out, re.M) and re.search(
        rf"^\+\s+image: {V2}$", out, re.M
    )
    assert {r: clusters.writes(r, include_dry_run=False) for r in REGIONS} == persisted
    assert all(broadcaster_image(clusters, region) == V1 for region in REGIONS)
    assert any("dryRun" not in w for w in clusters.writes(REGIONS[0]))  # sanity: log has writes


def test_parallel_deploys_every_region(clusters, fleet_file, cli):
    code, result, _ = cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", "--parallel", *GATE)
    assert code == 0 and result["parallel"] is True
    assert [r["state"] for r in result["regions"]] == ["deployed"] * 3


def test_rollback_and_status(clusters, fleet_file, cli, tmp_path: Path):
    assert cli("-f", str(fleet_file(image=V1)), "deploy", "--yes", *GATE)[0] == 0
    fleet = fleet_file(image=V2)
    assert cli("-f", str(fleet), "deploy", "--yes", *GATE)[0] == 0
    region = REGIONS[2]

    code, result, _ = cli("-f", str(fleet), "rollback", "--region", region, "--yes")
    assert code == 0
    assert result["from_revision"] == 2 and result["to_revision"] == 3
    assert broadcaster_image(clusters, region) == V1

    code, result, _ = cli("-f", str(fleet), "status")
    assert code == 0
    rows = {r["region"]: r for r in result["regions"]}
    assert rows[region]["revision"] == 3 and rows[region]["image"] == V1
    assert rows[REGIONS[0]]["revision"] == 2 and rows[REGIONS[0]]["image"] == V2
    assert rows[REGIONS[0]]["ready_replicas"] == 2 and rows[REGIONS[0]]["gate"] == "passed"


def test_secrets_never_show_even_with_debug_logs(clusters, fleet_file, cli):
    import base64

    from fakes.fleets import SECRET_VALUE

    code, out, err = cli(
        "-vv", "-f", str(fleet_file()), "deploy", "--yes", *GATE, json_output=False
    )
    assert code == 0
    for secret in (SECRET_VALUE, base64.b64encode(SECRET_VALUE.encode()).decode()):
        assert secret not in out + err


def test_status_names_an_unreachable_region_and_exits_4(clusters, fleet_file, cli, tmp_path):
    from fakes.fleets import fleet_document, write_fleet

    assert cli("-f", str(fleet_file()), "deploy", "--yes", *GATE)[0] == 0
    kubeconfig = clusters.write_kubeconfig(
        tmp_path / "kc-dead", {REGIONS[2]: clusters.unreachable_url()}
    )
    fleet = write_fleet(tmp_path / "dead.yaml", fleet_document(kubeconfig))
    code, result, _ = cli("-f", str(fleet), "status")
    assert code == 4
    rows = {r["region"]: r for r in result["regions"]}
    assert rows[REGIONS[2]]["reachable"] is False
    assert "Connection refused" in rows[REGIONS[2]]["error"]
    assert rows[REGIONS[0]]["revision"] == 1 and rows[REGIONS[0]]["reachable"] is True


def test_rollback_without_history_is_a_clear_error(clusters, fleet_file, cli):
    code, _, err = cli("-f", str(fleet_file()), "rollback", "--region", REGIONS[0], "--yes")
    assert code == 3
    assert "nothing to roll back to" in err and "Traceback" not in err


def test_conflicts_are_reported_and_force_conflicts_takes_over(clusters, fleet_file, cli):
    fleet = fleet_file(image=V1)
    assert cli("-f", str(fleet), "deploy", "--yes", *GATE)[0] == 0
    region = REGIONS[0]
    clusters.merge_patch(
        region,
        "apps/v1",
        "statefulsets",
        "broadcaster",
        f"{region}-broadcaster",
        {"spec": {"replicas": 5}},
        "kubectl-edit",
    )
    fleet = fleet_file(image=V2)
    code, result, _ = cli("-f", str(fleet), "deploy", "--yes", *GATE)
    assert code == 1
    failure = result["regions"][0]["failure"]
    assert "conflict" in failure and "kubectl-edit" in failure and ".spec.replicas" in failure
    assert "--force-conflicts" in result["regions"][0]["hint"]
    assert "nothing was written to this region" in failure
    sts = clusters.live(region, "statefulsets", "broadcaster", f"{region}-broadcaster")
    assert sts["spec"]["replicas"] == 5  # the other manager's value stands
    assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == V1  # not half-applied
    assert [r["state"] for r in result["regions"][1:]] == ["not-started"] * 2

    code, result, _ = cli("-f", str(fleet), "deploy", "--yes", "--force-conflicts", *GATE)
    assert code == 0
    sts = clusters.live(region, "statefulsets", "broadcaster", f"{region}-broadcaster")
    assert sts["spec"]["replicas"] == 2


def test_a_failed_health_gate_restores_the_previous_revision(tmp_path: Path, cli):
    """europe-west9's MCS controller imports nothing: kube-mcs fails there after apply."""
    from fakes.clusters import cluster_set
    from fakes.fleets import fleet_document, seed_secrets, write_fleet

    with cluster_set(REGIONS, no_imports={REGIONS[1]}, backdate_s=3600) as clusters:
        for region in REGIONS:
            seed_secrets(clusters, region)
        kubeconfig = clusters.write_kubeconfig(tmp_path / "kc")
        fleet = write_fleet(tmp_path / "f1.yaml", fleet_document(kubeconfig, image=V1))
        code, result, _ = cli(
            "-f",
            str(fleet),
            "deploy",
            "--yes",
            "--gate-check",
            "^kube-",
            "--gate-check",
            "!kube-mcs",
        )
        assert code == 0
        fleet = write_fleet(tmp_path / "f2.yaml", fleet_document(kubeconfig, image=V2))
        code, result, _ = cli("-f", str(fleet), "deploy", "--yes", *GATE)
        assert code == 1
        failed = result["regions"][1]
        assert failed["state"] == "rolled-back" and failed["rolled_back_to"] == 1
        assert "health gate failed: kube-mcs europe-west9" in failed["failure"]
        assert "ServiceImport us-east5-nats-gateway missing" in failed["failure"]
        assert broadcaster_image(clusters, REGIONS[1]) == V1
        assert broadcaster_image(clusters, REGIONS[0]) == V2


def test_a_failed_first_deploy_says_there_is_nothing_to_roll_back_to(clusters, fleet_file, cli):
    clusters.set_workloads(REGIONS[0], Workloads(not_ready_images={V1}))
    code, result, _ = cli(
        "-f", str(fleet_file(image=V1)), "deploy", "--yes", "--timeout", "0.3", *GATE
    )
    assert code == 1
    first = result["regions"][0]
    assert first["state"] == "failed" and first["rolled_back_to"] is None
    assert "no previous revision to roll back to (first deploy)" in first["failure"]
    assert [r["state"] for r in result["regions"][1:]] == ["not-started"] * 2


def test_progress_goes_to_stderr_per_region_and_quiet_silences_it(clusters, fleet_file, cli):
    fleet = str(fleet_file())
    code, out, err = cli("--no-color", "-f", fleet, "deploy", "--yes", *GATE, json_output=False)
    assert code == 0
    for region in REGIONS:
        assert region in err and region in out
    assert err.count("deployed revision 1") == 3
    assert "deployed revision" not in out  # the table is data, progress is not
    code, _, err = cli("-q", "-f", fleet, "deploy", "--yes", *GATE, json_output=False)
    assert code == 0 and err == ""


def test_gate_wait_retries_the_gate_until_it_passes(tmp_path: Path, cli):
    """europe-west9's MCS controller catches up after the first gate attempt: --gate-wait
    re-runs the gate until it passes instead of rolling back."""
    import threading
    import time

    from fakes.clusters import cluster_set
    from fakes.fleets import fleet_document, seed_secrets, write_fleet

    late = REGIONS[1]
    with cluster_set(REGIONS, no_imports={late}, backdate_s=3600) as clusters:
        for region in REGIONS:
            seed_secrets(clusters, region)
        fleet = write_fleet(
            tmp_path / "f.yaml", fleet_document(clusters.write_kubeconfig(tmp_path / "kc"))
        )

        def import_lists() -> int:
            log = clusters.clusters[late].requests_log()
            return sum(
                r.method.value == "GET" and r.url.path.endswith("/serviceimports") for r in log
            )

        def catch_up_after_first_gate() -> None:
            deadline = time.monotonic() + 30
            while clusters.call(import_lists) == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            clusters.no_imports.discard(late)
            clusters.call(lambda: clusters._import_exports(clusters.clusters[late]))

        helper = threading.Thread(target=catch_up_after_first_gate, daemon=True)
        helper.start()
        code, result, _ = cli("-f", str(fleet), "deploy", "--yes", *GATE, "--gate-wait", "20s",
                              "--poll-interval", "50ms")  # fmt: skip
        helper.join(5)
        assert code == 0, result
        assert [r["gate"] for r in result["regions"]] == ["passed"] * 3
        assert clusters.call(import_lists) >= 2  # the gate ran again after failing once


def test_a_broken_revision_record_is_a_clear_error(clusters, fleet_file, cli):
    fleet = str(fleet_file())
    assert cli("-f", fleet, "deploy", "--yes", *GATE)[0] == 0
    clusters.merge_patch(
        REGIONS[0],
        "v1",
        "configmaps",
        "broadcaster",
        "bcastctl-revisions",
        {"binaryData": {"rev-1": "bm90IGd6aXA="}},
        "vandal",
    )
    code, result, _ = cli("-f", fleet, "status")
    assert code == 3
    row = result["regions"][0]
    assert row["reachable"] is True
    assert "revision record broadcaster/bcastctl-revisions is unreadable" in row["error"]
    code, _, err = cli("-f", fleet, "deploy", "--yes", *GATE, json_output=False)
    assert code == 3 and "unreadable" in err and "Traceback" not in err
