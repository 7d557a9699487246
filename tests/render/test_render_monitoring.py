"""render with `monitor.enabled`: the monitor's objects, least-privilege RBAC, alert rules
that real promtool (Debian's prometheus 2.42) accepts and that fire on a down link.

`promtool check rules` / `promtool test rules` and the unit-test file format are
Prometheus's own (prometheus.io/docs/prometheus/latest/configuration/unit_testing_rules/).
PrometheusRule's `spec.groups` is a rule file's `groups` (prometheus-operator API docs).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bcastctl.fleet import load_fleet, parse_fleet
from bcastctl.model import replace
from bcastctl.render.manifests import region_manifests
from bcastctl.render.monitoring import alert_groups

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "monitor"))
from prometheus_kit import PROMTOOL, need

REPO = Path(__file__).resolve().parents[2]
K8S_VERSION = "1.33.0"
WRITE_VERBS = {"create", "update", "patch", "delete", "deletecollection", "*"}


def fleet_with_monitor(**monitor: Any) -> Any:
    data = yaml.safe_load((REPO / "examples" / "fleet.yaml").read_text())
    for region in data["regions"]:  # as an operator's fleet: contexts in a local kubeconfig
        region["cluster"] = {"context": f"gke-{region['name']}", "kubeconfig": "/home/me/.kube/x"}
    data["monitor"] = {"enabled": True, **monitor}
    return parse_fleet(data)


def kinds(docs: list[dict[str, Any]]) -> list[str]:
    return sorted(doc["kind"] for doc in docs)


def test_off_by_default_and_one_deployment_per_fleet_when_on() -> None:
    plain = load_fleet(REPO / "examples" / "fleet.yaml")
    assert all(
        not any("monitor" in doc["metadata"]["name"] for doc in region_manifests(plain, r).own)
        for r in plain.regions
    )
    fleet = fleet_with_monitor(region="europe-west9")
    per_region = {
        r.name: region_manifests(fleet, r).files.get("monitoring.yaml", []) for r in fleet.regions
    }
    identity = ["Role", "RoleBinding", "ServiceAccount"]
    assert kinds(per_region["us-east5"]) == kinds(per_region["asia-southeast1"]) == identity
    serving = ["ConfigMap", "ConfigMap", "Deployment", "NetworkPolicy", "PrometheusRule"]
    assert kinds(per_region["europe-west9"]) == sorted(
        [*identity, *serving, "Service", "ServiceMonitor"]
    )


def test_objects_validate_and_rbac_is_read_only() -> None:
    fleet = fleet_with_monitor()
    docs = region_manifests(fleet, fleet.regions[0]).files["monitoring.yaml"]
    for doc in docs:
        if doc["apiVersion"].startswith("monitoring.coreos.com"):
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
    role = next(doc for doc in docs if doc["kind"] == "Role")
    for rule in role["rules"]:
        assert not set(rule["verbs"]) & WRITE_VERBS, rule
        assert "secrets" not in rule["resources"] and "*" not in rule["resources"]
    deployment = next(doc for doc in docs if doc["kind"] == "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["args"][container["args"].index("monitor") + 1 :][:2] == ["--target", "kube"]
    shipped = next(d for d in docs if d["metadata"]["name"] == "bcast-monitor-fleet")
    loaded = parse_fleet(yaml.safe_load(shipped["data"]["fleet.yaml"]))  # loads back
    assert [r.cluster.kubeconfig for r in loaded.regions] == [None] * len(fleet.regions)
    assert [r.cluster.context for r in loaded.regions] == [r.cluster.context for r in fleet.regions]
    assert replace(loaded, regions=fleet.regions) == fleet  # nothing else changed
    dashboard = next(d for d in docs if d["metadata"]["name"] == "bcast-monitor-dashboard")
    model = json.loads(dashboard["data"]["bcastctl-fleet.json"])
    assert {p["type"] for p in model["panels"]} >= {"table", "heatmap", "state-timeline"}


def rule_file(tmp_path: Path) -> Path:
    fleet = fleet_with_monitor(rtt_budget_ms=200, failing_intervals=3)
    rules = region_manifests(fleet, fleet.regions[0]).files["monitoring.yaml"]
    rule = next(doc for doc in rules if doc["kind"] == "PrometheusRule")
    assert rule["spec"]["groups"] == alert_groups(fleet)
    path = tmp_path / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}))
    return path


def test_promtool_accepts_the_rendered_rules(tmp_path: Path) -> None:
    done = subprocess.run([need(PROMTOOL, "promtool"), "check", "rules", str(rule_file(tmp_path))],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 7 rules found" in done.stdout


def test_promtool_fires_gateway_down_only_after_two_minutes_down(tmp_path: Path) -> None:
    rules = rule_file(tmp_path)
    down = {"from": "us-east5", "to": "europe-west9"}
    labels = "{" + ",".join(f'{k}="{v}"' for k, v in down.items()) + "}"
    alert = {"severity": "critical", "fleet": "bcast-prod", **down}
    tests = {
        "rule_files": [rules.name],
        "evaluation_interval": "30s",
        "tests": [{
            "interval": "30s",
            # up for 2 minutes, then down (a cut link); another link up all along
            "input_series": [
                {"series": f"bcast_gateway_up{labels}", "values": "1x4 0x10"},
                {"series": 'bcast_gateway_up{from="us-east5",to="asia-southeast1"}',
                 "values": "1x15"},
                {"series": f"bcast_rtt_p50_seconds{labels}", "values": "0.084x15"},
            ],
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": "BcastGatewayLinkDown", "exp_alerts": []},
                {"eval_time": "5m", "alertname": "BcastGatewayLinkDown", "exp_alerts": [{
                    "exp_labels": alert,
                    "exp_annotations": {
                        "summary": "NATS gateway link us-east5 -> europe-west9 is down"}}]},
                {"eval_time": "5m", "alertname": "BcastRttOverBudget", "exp_alerts": []},
            ],
        }],
    }  # fmt: skip
    fleet_name = yaml.safe_load((REPO / "examples" / "fleet.yaml").read_text())["name"]
    alert["fleet"] = fleet_name
    test_file = tmp_path / "rules_test.yaml"
    test_file.write_text(yaml.safe_dump(tests))
    done = subprocess.run([need(PROMTOOL, "promtool"), "test", "rules", test_file.name],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    # and the same file fails when the link never goes down: the test can fail
    tests["tests"][0]["input_series"][0]["values"] = "1x15"
    test_file.write_text(yaml.safe_dump(tests))
    done = subprocess.run([need(PROMTOOL, "promtool"), "test", "rules", test_file.name],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)  # fmt: skip
    assert done.returncode == 1 and "BcastGatewayLinkDown" in done.stdout + done.stderr


@pytest.mark.parametrize("region", ["nowhere"])
def test_unknown_monitor_region_is_a_config_error(region: str) -> None:
    from bcastctl.errors import ConfigError

    with pytest.raises(ConfigError, match=r"monitor\.region"):
        fleet_with_monitor(region=region)


ALERT_CASES = [
    # (alert, input series, values every 30 s, when it must not fire yet, when it must fire)
    ("BcastPartition", 'bcast_partition{a="europe-west9",b="us-east5"}', "0 1x10", "1m", "2m"),
    ("BcastRttOverBudget", 'bcast_rtt_p50_seconds{from="us-east5",to="asia-southeast1"}',
     "0.1 0.25x20", "5m", "6m"),
    ("BcastTurnFailing", 'bcast_turn_up{region="asia-southeast1"}', "1 0x10", "2m", "3m"),
    ("BcastNodeRejected", 'bcast_node_rejected{node="rogue-0",by="us-east5-0"}', "1x10", "30s",
     "1m"),
    ("BcastCheckFailing", 'bcast_check_failing_rounds{check="turn",scope="us-east5"}',
     "0 1 2 3 4", "1m", "1m30s"),
    # the last round ended at t=0 and none since: stale after 3 intervals (90 s)
    ("BcastMonitorStale", "bcast_monitor_last_round_timestamp_seconds", "0x10", "1m", "2m"),
]  # fmt: skip


@pytest.mark.parametrize(("alert", "series", "values", "quiet", "fires"), ALERT_CASES)
def test_promtool_fires_each_alert_when_its_condition_lasts(
    tmp_path: Path, alert: str, series: str, values: str, quiet: str, fires: str
) -> None:
    """Budget 200 ms and 3 failing rounds (rule_file); each alert stays quiet, then fires."""
    rules = rule_file(tmp_path)
    case = {
        "interval": "30s",
        "input_series": [{"series": series, "values": values}],
        "alert_rule_test": [{"eval_time": quiet, "alertname": alert, "exp_alerts": []}],
    }
    tests = {"rule_files": [rules.name], "evaluation_interval": "30s", "tests": [case]}
    quiet_run = promtool_test(tmp_path, "quiet.yaml", tests)
    assert quiet_run.returncode == 0, quiet_run.stdout + quiet_run.stderr
    case["alert_rule_test"] = [{"eval_time": fires, "alertname": alert, "exp_alerts": []}]
    fired = promtool_test(tmp_path, "fires.yaml", tests)
    # expecting no alert at `fires` must fail, naming the alert that did fire
    assert fired.returncode == 1 and alert in fired.stdout + fired.stderr


def promtool_test(directory: Path, name: str, tests: dict[str, Any]) -> Any:
    (directory / name).write_text(yaml.safe_dump(tests))
    return subprocess.run([need(PROMTOOL, "promtool"), "test", "rules", name],
                          capture_output=True, text=True, timeout=60, cwd=directory)  # fmt: skip
