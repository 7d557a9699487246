"""Secrets never leak (files, output, logs, argv); bad input gets one line and an exit code."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import pytest
from labkit import cli

from bcastctl.fleet import load_fleet
from bcastctl.targets.lab_state import (
    lab_turn_secret,
    lab_whip_token,
    load_lab_secrets,
    load_lab_state,
)

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab


def _secret_values(lab_dir: Path) -> list[str]:
    return list(load_lab_secrets(load_lab_state(lab_dir)).as_plain().values())


def test_secrets_file_is_private_and_its_values_are_masked(lab: Any, lab_dir: Path) -> None:
    state = load_lab_state(lab_dir)
    assert stat.S_IMODE(Path(state.secrets_file).stat().st_mode) == 0o600
    secrets = load_lab_secrets(state)
    # one generated value per Secret the rendered objects reference (each Secret the fleet
    # names, key `secret`: credentials added to the fleet need no lab change), all different
    fleet = load_fleet(state.fleet_path)
    unused = {fleet.secrets.monitor_kubeconfig}  # referenced only when monitor.enabled
    assert set(secrets.values) == {f"{n}/secret" for n in fleet.secrets.names() if n not in unused}
    assert "bcast-nats-node/secret" in secrets.values
    assert len(set(_secret_values(lab_dir))) == len(secrets.values)
    for value in _secret_values(lab_dir):
        assert value not in repr(secrets) and value not in str(secrets)
    assert lab_whip_token(state) == secrets.get("bcast-whip-token/secret")
    assert lab_turn_secret(state) == secrets.get("bcast-turn-secret/secret")


def test_no_secret_in_state_output_logs_configs_or_argv(lab: Any, lab_dir: Path) -> None:
    values = _secret_values(lab_dir)
    state = load_lab_state(lab_dir)
    places = {
        "state.json": (lab_dir / "state.json").read_text(),
        "lab status -o json": cli(
            "-o", "json", "lab", "status", "--state-dir", str(lab_dir)
        ).stdout,
        "lab status": cli("lab", "status", "--state-dir", str(lab_dir)).stdout,
        "lab up -o json": json.dumps(lab),
    }
    for log in (lab_dir / "logs").iterdir():
        places[f"log {log.name}"] = log.read_text(errors="replace")
    for config in (lab_dir / "pods").rglob("*.conf"):
        places[str(config.relative_to(lab_dir))] = config.read_text()
    assert any(name.endswith("nats.conf") for name in places)
    for process in state.processes:
        places[f"argv of {process.name}"] = Path(f"/proc/{process.pid}/cmdline").read_text()
    leaks = [where for where, text in places.items() for value in values if value in text]
    assert leaks == []


def test_turn_config_holding_the_secret_is_private(lab: Any, lab_dir: Path) -> None:
    config = lab_dir / "turnserver.conf"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert lab_turn_secret(load_lab_state(lab_dir)) in config.read_text()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["cut-link", "us-east5", "us-east5"], 2, "two different regions"),
        (["cut-link", "us-east5", "mars"], 2, "unknown region 'mars'"),
        (["slow-link", "us-east5", "europe-west9", "--ms", "-5"], 2, "--ms"),
        (["kill-node", "nobody-0"], 2, "unknown node 'nobody-0'"),
        (["kill-nats", "mars"], 2, "unknown region 'mars'"),
    ],
)
def test_bad_fault_arguments(
    lab: Any, lab_dir: Path, args: list[str], code: int, message: str
) -> None:
    result = cli("lab", "fault", *args, "--state-dir", str(lab_dir))
    assert result.returncode == code, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_or_invalid_inputs(tmp_path: Path) -> None:
    missing = cli("lab", "up", "--fleet", str(tmp_path / "nope.yaml"), "--state-dir", str(tmp_path))
    assert missing.returncode == 3 and "fleet file not found" in missing.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nimage: y\nregions: [{name: a, geo: {lat: 0, lon: 0}, replicas: 0}]\n")
    invalid = cli("lab", "up", "--fleet", str(bad), "--state-dir", str(tmp_path / "s"))
    assert invalid.returncode == 3 and "regions[0].replicas" in invalid.stderr
    no_lab = cli("lab", "status", "--state-dir", str(tmp_path / "empty"))
    assert no_lab.returncode == 3 and "no lab state here" in no_lab.stderr
    no_fault = cli("lab", "fault", "cut-link", "a", "b", "--state-dir", str(tmp_path / "empty"))
    assert no_fault.returncode == 3
    for result in (missing, invalid, no_lab, no_fault):
        assert "Traceback" not in result.stderr
        assert len(result.stderr.strip().splitlines()) <= 2  # one line, plus a hint
