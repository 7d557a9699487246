"""Helpers for lab tests: run the real CLI, read the lab's endpoints, always clean up.

Every lab a test starts goes through `running_lab`, which runs `bcastctl lab down`
in a finally block and, should that fail, stops whatever process still has the
lab's state dir as its working directory (only the lab's own processes do).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import yaml

from bcastctl.readers.cluster import member_names
from bcastctl.readers.nats import parse_gatewayz

REPO = Path(__file__).resolve().parents[2]
EXAMPLE_LAB = REPO / "examples" / "lab.yaml"
# Test labs start looking for a free prefix away from the default 127.77, which a
# developer's own `bcastctl lab up` uses; the lab moves on if the prefix is taken.
TEST_PREFIX = f"127.{120 + os.getpid() % 100}"


def cli(
    *args: str, state_dir: Path | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run `bcastctl ARGS` as a user would (a new process, NO_COLOR, wide output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCAST")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200"})
    if state_dir is not None:
        env["BCASTCTL_LAB_DIR"] = str(state_dir)
    return subprocess.run(
        [sys.executable, "-m", "bcastctl", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
    )


def write_fleet(path: Path, *, base: Path = EXAMPLE_LAB, **changes: Any) -> Path:
    """A copy of a fleet file with a test prefix and top-level/lab changes."""
    data = yaml.safe_load(base.read_text())
    lab = data.setdefault("lab", {})
    lab["loopback_prefix"] = TEST_PREFIX
    lab.update(changes.pop("lab", {}))
    data.update(changes)
    path.write_text(yaml.safe_dump(data))
    return path


def small_fleet(path: Path, *, replicas: int = 1, one_way_ms: float = 5) -> Path:
    """Two regions, `replicas` nodes each, a short link: a fast lab to break."""
    regions = [
        {"name": "east", "geo": {"lat": 40.0, "lon": -80.0}, "replicas": replicas},
        {"name": "west", "geo": {"lat": 45.0, "lon": -120.0}, "replicas": replicas},
    ]
    lab = {"latency": [{"between": ["east", "west"], "one_way_ms": one_way_ms}]}
    return write_fleet(path, regions=regions, lab=lab)


def lab_processes(state_dir: Path) -> list[int]:
    """Live processes whose working directory is the lab's state dir (the lab's own)."""
    target = str(state_dir.resolve())
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if os.readlink(entry / "cwd") == target:
                stat = (entry / "stat").read_text()
                if stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
                    found.append(int(entry.name))
        except OSError:
            continue
    return found


def force_cleanup(state_dir: Path) -> None:
    """Last resort after a failed `lab down`: SIGKILL the lab's leftover processes."""
    for pid in lab_processes(state_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def running_lab(fleet: Path, state_dir: Path, *extra: str) -> Iterator[dict[str, Any]]:
    """`bcastctl lab up` -> the LabUp result (JSON); `lab down` afterwards, whatever happens."""
    try:
        up = cli(
            "-o", "json", "lab", "up", "--fleet", str(fleet), "--state-dir", str(state_dir), *extra
        )
        assert up.returncode == 0, f"lab up failed ({up.returncode}): {up.stderr}"
        yield json.loads(up.stdout)["result"]
    finally:
        down = cli("lab", "down", "--state-dir", str(state_dir))
        if down.returncode != 0:
            force_cleanup(state_dir)


def http_json(url: str, timeout: float = 3.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def http_status(url: str, timeout: float = 3.0) -> int:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as e:
        return e.code


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 20.0) -> Any:
    """Poll until `condition()` is truthy; fail naming `what` and the last value seen."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = condition()
        except OSError as e:
            last = e
        else:
            if last:
                return last
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; last: {last!r}")


def connected_gateways(monitor_url: str) -> tuple[set[str], set[str]]:
    """(outbound connected, inbound) gateway names from a NATS /gatewayz."""
    links = parse_gatewayz(http_json(f"{monitor_url}/gatewayz"))
    return set(links.outbound_rtt_ms), set(links.inbound)


def members(admin_url: str) -> set[str]:
    return member_names(http_json(f"{admin_url}/api/cluster"))


def full_mesh(result: dict[str, Any]) -> bool:
    """Every gateway connected both ways and every node seeing every other node."""
    regions = result["regions"]
    names = {region["name"] for region in regions}
    for region in regions:
        outbound, inbound = connected_gateways(region["nats_monitor_url"])
        if outbound != names - {region["name"]} or inbound != names - {region["name"]}:
            return False
    nodes = {node["name"]: node for region in regions for node in region["nodes"]}
    return all(members(node["admin_url"]) == set(nodes) - {name} for name, node in nodes.items())


def holder(session: Any) -> str:
    """The node a WHIP/WHEP session's resource id names (/api/resource/<node>.<token>)."""
    return str(session.resource).rsplit("/", 1)[1].split(".", 1)[0]
