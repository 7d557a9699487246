"""`lab down` leaves nothing behind: no process, no bound port, no secret on disk.

Also after an interrupted or failed `lab up`, and with two labs side by side.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from labkit import (
    REPO,
    cli,
    connected_gateways,
    force_cleanup,
    lab_processes,
    running_lab,
    small_fleet,
)

from bcastctl.lab.procs import port_is_free

pytestmark = pytest.mark.slow


def _endpoints(state: dict) -> list[tuple[str, str, int]]:
    parsed = [endpoint.split(":") for endpoint in state["endpoints"]]
    return [(transport, host, int(port)) for transport, host, port in parsed]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


def test_down_stops_every_process_and_frees_every_port(tmp_path: Path) -> None:
    state_dir = tmp_path / "state"
    with running_lab(small_fleet(tmp_path / "fleet.yaml"), state_dir) as up:
        state = up["state"]
        pids = [process["pid"] for process in state["processes"]]
        assert len(pids) == 2 + 2 + 1 + 2  # dns, linkd, 2 NATS, TURN, 2 nodes
        assert all(_alive(pid) for pid in pids)
        assert not any(port_is_free(*endpoint) for endpoint in _endpoints(state))
        down = cli("lab", "down", "--state-dir", str(state_dir))
        assert down.returncode == 0, down.stderr
        assert "7 processes ended" in down.stdout
        assert not [pid for pid in pids if _alive(pid)]
        assert lab_processes(state_dir) == []
        busy = [endpoint for endpoint in _endpoints(state) if not port_is_free(*endpoint)]
        assert busy == []
        assert not (state_dir / "state.json").exists()
        assert not (state_dir / "secrets.json").exists()
        assert (state_dir / "logs").is_dir()  # kept for post-mortems
    again = cli("lab", "down", "--state-dir", str(state_dir))
    assert again.returncode == 0 and "nothing to stop" in again.stdout


def test_down_stops_a_lab_whose_up_was_killed_halfway(tmp_path: Path) -> None:
    fleet = small_fleet(tmp_path / "fleet.yaml")
    state_dir = tmp_path / "state"
    argv = [sys.executable, "-m", "bcastctl", "lab", "up", "-f", str(fleet)]
    up = subprocess.Popen(
        [*argv, "--state-dir", str(state_dir)], cwd=REPO, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                if len(json.loads((state_dir / "state.json").read_text())["processes"]) >= 3:
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.01)
        up.send_signal(signal.SIGKILL)
        up.wait()
        assert lab_processes(state_dir), "the killed `up` left no process to clean up"
        down = cli("lab", "down", "--state-dir", str(state_dir))
        assert down.returncode == 0, down.stderr
        assert lab_processes(state_dir) == []
    finally:
        if up.poll() is None:
            up.kill()
        force_cleanup(state_dir)


def test_up_with_a_fleet_the_nodes_could_not_run_starts_nothing(tmp_path: Path) -> None:
    """Equal signalling and admin ports used to start NATS and fail at the nodes' bind;
    the fleet now refuses them at load (exit 3), before any process starts."""
    data = yaml.safe_load(small_fleet(tmp_path / "fleet.yaml").read_text())
    data["node"] = {"signalling_port": 18080, "admin_port": 18080}
    fleet = tmp_path / "broken.yaml"
    fleet.write_text(yaml.safe_dump(data))
    state_dir = tmp_path / "state"
    try:
        up = cli("lab", "up", "-f", str(fleet), "--state-dir", str(state_dir), "--timeout", "30")
        assert up.returncode == 3, up.stdout + up.stderr
        assert "Traceback" not in up.stderr
        assert "signalling_port and admin_port are both 18080" in up.stderr
        assert lab_processes(state_dir) == []
        assert not (state_dir / "state.json").exists()
    finally:
        force_cleanup(state_dir)


def test_two_labs_get_different_addresses(tmp_path: Path) -> None:
    fleet = small_fleet(tmp_path / "fleet.yaml")
    with (
        running_lab(fleet, tmp_path / "one", "--no-nodes") as one,
        running_lab(fleet, tmp_path / "two", "--no-nodes") as two,
    ):
        first, second = one["state"], two["state"]
        assert first["loopback_prefix"] != second["loopback_prefix"]
        assert not set(first["endpoints"]) & set(second["endpoints"])
        for state in (first, second):
            east = state["regions"][0]
            assert connected_gateways(east["nats_monitor_url"]) == ({"west"}, {"west"})
    assert os.path.exists(tmp_path / "one" / "logs")
