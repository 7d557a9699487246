"""The lab runs what render ships: a changed rendered value shows in the running processes.

- A value changed at render's public boundary (`region_manifests`), with no lab code
  changed, reaches nats-server (`/varz` ping_interval and max_payload, which nats-server
  reports as configured: nats-server `server/monitor.go` Varz) and the node (its
  heartbeat rate in `/metrics`, BCAST_HEARTBEAT_INTERVAL).
- A render output directory patched by hand runs with `lab up --from DIR`.
- Every substitution and every field the lab cannot honour is listed (`-v`, status YAML).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from labkit import cli, full_mesh, http_json, running_lab, small_fleet, wait_for, write_fleet

from bcastctl.fleet import load_fleet
from bcastctl.model import to_data

pytestmark = pytest.mark.slow

HEARTBEAT_ENV = "BCAST_HEARTBEAT_INTERVAL"


def _patch_objects(objects: list[dict[str, Any]], ping: str, payload: str, beat: str) -> None:
    """Change the rendered NATS config and node env the way a template change would."""
    for doc in objects:
        if doc["kind"] == "ConfigMap" and "nats.conf" in (doc.get("data") or {}):
            text = doc["data"]["nats.conf"].replace(
                'ping_interval: "2s"', f'ping_interval: "{ping}"'
            )
            doc["data"]["nats.conf"] = text + f"max_payload: {payload}\n"
        labels = doc.get("spec", {}).get("template", {}).get("metadata", {}).get("labels", {})
        if doc["kind"] == "StatefulSet" and labels.get("app.kubernetes.io/name") == "broadcaster":
            container = doc["spec"]["template"]["spec"]["containers"][0]
            container["env"].append({"name": HEARTBEAT_ENV, "value": beat})


def _beats_per_second(admin_url: str) -> float:
    def sent() -> float:
        with __import__("urllib.request").request.urlopen(f"{admin_url}/metrics", timeout=3) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("bcast_node_heartbeats_sent_total "):
                    return float(line.split()[1])
        raise AssertionError("no bcast_node_heartbeats_sent_total in /metrics")

    first, started = sent(), time.monotonic()
    time.sleep(2.0)
    return (sent() - first) / (time.monotonic() - started)


def _assert_running_values(state: dict[str, Any]) -> None:
    for region in state["regions"]:
        varz = http_json(f"{region['nats_monitor_url']}/varz")
        assert varz["ping_interval"] == 3_000_000_000, varz["ping_interval"]  # ns
        assert varz["max_payload"] == 512 * 1024
    # 0.1 s heartbeats: about 10 a second (the default 0.5 s gives 2)
    assert _beats_per_second(state["regions"][0]["nodes"][0]["admin_url"]) > 6


async def test_a_value_changed_in_render_reaches_the_running_lab(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bcastctl.lab.supervisor import lab_up
    from bcastctl.lab.teardown import lab_down
    from bcastctl.render import manifests

    original = manifests.region_manifests

    def changed(fleet: Any, region: Any) -> Any:
        result = original(fleet, region)
        _patch_objects(result.own, "3s", "512KB", "0.1")
        return result

    monkeypatch.setattr(manifests, "region_manifests", changed)
    fleet_path = small_fleet(tmp_path / "fleet.yaml")
    state_dir = tmp_path / "state"
    try:
        result = await lab_up(load_fleet(fleet_path), fleet_path, state_dir, timeout_s=60)
        state = to_data(result.state)
        _assert_running_values(state)
    finally:
        lab_down(state_dir)


def test_lab_up_from_a_patched_render_directory(tmp_path: Path) -> None:
    fleet = small_fleet(tmp_path / "fleet.yaml")
    out = tmp_path / "rendered"
    rendered = cli("--fleet", str(fleet), "render", "--out", str(out))
    assert rendered.returncode == 0, rendered.stderr
    for region in ("east", "west"):
        path = out / "resolved" / f"{region}.yaml"
        docs = list(yaml.safe_load_all(path.read_text()))
        _patch_objects(docs, "3s", "512KB", "0.1")
        path.write_text(yaml.safe_dump_all(docs))
    state_dir = tmp_path / "state"
    with running_lab(fleet, state_dir, "--from", str(out)) as up:
        state = up["state"]
        assert state["rendered_from"] == str(out.resolve())
        assert wait_for("full mesh", lambda: full_mesh(state), timeout=10)
        _assert_running_values(state)
        status = cli("-o", "yaml", "lab", "status", "--state-dir", str(state_dir))
        differences = yaml.safe_load(status.stdout)["result"]["differences"]
        wheres = {(d["kind"], d["where"]) for d in differences if d["region"] == "east"}
        assert ("substituted", "nats.conf gateway.advertise") in wheres
        assert ("substituted", "StatefulSet east-broadcaster env BCAST_NATS_URL") in wheres
        assert ("not honoured", "StatefulSet east-broadcaster container resources") in wheres
        assert ("not honoured", "NetworkPolicy broadcaster") in wheres
        # `lab up -v` on the running lab prints the same list as a table
        shown = cli(
            "-v", "lab", "up", "--from", str(out), "--state-dir", str(state_dir), "-f", str(fleet)
        )
        assert shown.returncode == 0, shown.stderr
        assert "what the lab runs differently from the rendered objects" in shown.stdout
        assert "gateway.advertise" in shown.stdout and "not honoured" in shown.stdout


def test_a_missing_or_broken_render_directory_is_one_line(tmp_path: Path) -> None:
    fleet = small_fleet(tmp_path / "fleet.yaml")
    empty = tmp_path / "empty"
    empty.mkdir()
    missing = cli(
        "lab", "up", "-f", str(fleet), "--from", str(empty), "--state-dir", str(tmp_path / "s")
    )
    assert missing.returncode == 3, missing.stderr
    assert "resolved/east.yaml: not found" in missing.stderr and "Traceback" not in missing.stderr
    (empty / "resolved").mkdir()
    (empty / "resolved" / "east.yaml").write_text("kind: ConfigMap\nmetadata: {name: x}\n")
    (empty / "resolved" / "west.yaml").write_text("kind: ConfigMap\nmetadata: {name: x}\n")
    broken = cli(
        "lab", "up", "-f", str(fleet), "--from", str(empty), "--state-dir", str(tmp_path / "s")
    )
    assert broken.returncode == 3, broken.stderr
    assert "no StatefulSet with pod label app.kubernetes.io/name=nats" in broken.stderr
    assert not (tmp_path / "s" / "state.json").exists() or "pid" not in broken.stdout


def test_four_regions_with_unusual_names_pass_verify_and_probe(tmp_path: Path) -> None:
    """Names that look like our suffixes (`west-nats`), one letter, and a long one."""
    names = ["east", "west-nats", "x", "a-very-long-region-name-9"]
    regions = [
        {"name": name, "geo": {"lat": 10.0 * i, "lon": 20.0 * i}, "replicas": 1}
        for i, name in enumerate(names)
    ]
    fleet = write_fleet(
        tmp_path / "fleet.yaml", regions=regions, lab={"latency": [], "default_one_way_ms": 5}
    )
    state_dir = tmp_path / "state"
    with running_lab(fleet, state_dir) as up:
        state = up["state"]
        assert [region["name"] for region in state["regions"]] == names
        assert wait_for("full mesh", lambda: full_mesh(state), timeout=10)
        verify = cli("verify", "mesh", "--state-dir", str(state_dir), "--wait", "20s")
        assert verify.returncode == 0, verify.stdout + verify.stderr
        probe = cli("-o", "json", "probe", "rtt", "--state-dir", str(state_dir), "-n", "5")
        assert probe.returncode == 0, probe.stdout + probe.stderr
        pairs = json.loads(probe.stdout)["result"]["pairs"]
        assert len(pairs) == 12  # every ordered pair of the 4 regions
