"""NATS rendered the way the nats-io Helm chart runs it (helm/charts/nats in nats-io/k8s):
a PodDisruptionBudget, lame-duck mode before the container stops (`nats-server --signal
ldm=<pid file>`, the server started with `--pid`), a startup probe, topology spread, a
checksum of the config on the pod template, and clients on a ClusterIP Service (ready
servers only) rather than the headless one that publishes not-ready addresses.
Issue 11 point 6."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from bcastctl.fleet import load_fleet
from bcastctl.node.settings import NodeSettings
from bcastctl.render.manifests import region_manifests

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml"
FLEET = load_fleet(EXAMPLE)
REGION = "europe-west9"
OBJECTS = region_manifests(FLEET, FLEET.region(REGION)).resolved


def _get(kind: str, name: str) -> dict[str, Any]:
    return next(d for d in OBJECTS if d["kind"] == kind and d["metadata"]["name"] == name)


def _seconds(config: str, key: str, default: float) -> float:
    match = re.search(rf"^\s*{key}\s*[:=]\s*\"?(\d+)(s|m)\"?", config, re.MULTILINE)
    if match is None:
        return default
    return float(match.group(1)) * (60 if match.group(2) == "m" else 1)


def test_nats_has_a_disruption_budget_lame_duck_startup_probe_and_spread() -> None:
    sts = _get("StatefulSet", f"{REGION}-nats")
    pdb = _get("PodDisruptionBudget", f"{REGION}-nats")
    assert pdb["spec"]["selector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]
    pod = sts["spec"]["template"]["spec"]
    container = pod["containers"][0]
    pid_file = container["args"][container["args"].index("--pid") + 1]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == [
        "nats-server",
        "--signal",
        f"ldm={pid_file}",
    ]
    assert any(m["mountPath"] == str(Path(pid_file).parent) for m in container["volumeMounts"])
    assert container["startupProbe"]["httpGet"]["port"] == "monitor"
    # lame duck mode closes clients over lame_duck_duration after lame_duck_grace_period
    # (defaults 2m and 10s: nats-io/nats-server server/const.go); the kubelet must not kill
    # the server before it has finished
    config = _get("ConfigMap", f"{REGION}-nats-config")["data"]["nats.conf"]
    duration = _seconds(config, "lame_duck_duration", 120)
    grace = _seconds(config, "lame_duck_grace_period", 10)
    assert pod["terminationGracePeriodSeconds"] > duration + grace
    spread = pod["topologySpreadConstraints"][0]
    assert spread["topologyKey"] == "topology.kubernetes.io/zone"
    assert spread["labelSelector"]["matchLabels"] == sts["spec"]["selector"]["matchLabels"]


def test_the_config_checksum_is_the_configs_digest() -> None:
    config = _get("ConfigMap", f"{REGION}-nats-config")["data"]["nats.conf"]
    annotations = _get("StatefulSet", f"{REGION}-nats")["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert annotations["checksum/config"] == hashlib.sha256(config.encode()).hexdigest()


def test_nodes_dial_nats_through_the_clusterip_service_of_ready_servers() -> None:
    node = _get("StatefulSet", f"{REGION}-broadcaster")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in node["containers"][0]["env"]}
    url = env[NodeSettings.nats_urls.env]
    service_name = url.removeprefix("nats://").split(".")[0]
    service = _get("Service", service_name)
    assert service["spec"].get("clusterIP") != "None"
    assert not service["spec"].get("publishNotReadyAddresses")
    assert [p["port"] for p in service["spec"]["ports"]] == [FLEET.nats.client_port]


def test_every_config_variable_is_an_env_var_of_the_nats_container() -> None:
    """The contract with render/nats_config.py: each `$VAR` comes from the environment."""
    from bcastctl.render.manifests import config_variables

    config = _get("ConfigMap", f"{REGION}-nats-config")["data"]["nats.conf"]
    env = _get("StatefulSet", f"{REGION}-nats")["spec"]["template"]["spec"]["containers"][0]["env"]
    names = {e["name"] for e in env}
    assert set(config_variables(config)) <= names
    for entry in env:
        if entry["name"] != "POD_NAME":
            assert "secretKeyRef" in entry["valueFrom"], entry["name"]


def test_the_node_binds_ice_to_the_range_the_policy_admits() -> None:
    node = _get("StatefulSet", f"{REGION}-broadcaster")["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in node["containers"][0]["env"]}
    assert env[NodeSettings.rtc_port_min.env] == str(FLEET.node.rtc_port_min)
    assert env[NodeSettings.rtc_port_max.env] == str(FLEET.node.rtc_port_max)
