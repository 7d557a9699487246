"""Real parts for check tests without a whole lab: NATS servers joined by gateways.

`NatsRegions.start(dir, ["a", "b", "c"])` runs one nats-server per region on
loopback with probed ports; `lab_state()` describes them as a LabState (no nodes)
so the real LabTarget reaches them. Every process is stopped by pid in `stop()`.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bcastctl.fleet import Fleet, parse_fleet
from bcastctl.readers.nats import parse_gatewayz
from bcastctl.targets.lab_state import (
    DnsState,
    LabState,
    LinkdState,
    RegionState,
    TurnState,
)
from nats_testkit import NATS_SERVER, free_port, gateway_config, gateways_connected, wait_for


def http_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


@dataclass
class NatsRegion:
    name: str
    client_port: int = field(default_factory=free_port)
    gateway_port: int = field(default_factory=free_port)
    monitor_port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def monitor(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def start(self, directory: Path, everyone: list[NatsRegion]) -> None:
        conf = directory / f"nats-{self.name}.conf"
        conf.write_text(
            gateway_config(
                self.name,
                self.client_port,
                self.monitor_port,
                self.gateway_port,
                {r.name: r.gateway_port for r in everyone},
            )
        )
        with open(directory / f"nats-{self.name}.log", "wb") as log:
            self.process = subprocess.Popen(
                [str(NATS_SERVER), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
            )

    def connected_to(self, others: list[str]) -> bool:
        return gateways_connected(http_json(self.monitor + "/gatewayz"), others)

    def rtt_measured(self) -> bool:
        """nats-server has timed every connected gateway link (it says 0 until its first
        PING on a link, ~1 s after the link connects: tests/readers/test_nats_reader.py)."""
        return not parse_gatewayz(http_json(self.monitor + "/gatewayz")).unmeasured

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


@dataclass
class NatsRegions:
    directory: Path
    regions: list[NatsRegion]

    @classmethod
    def start(cls, directory: Path, names: list[str]) -> NatsRegions:
        fleet = cls(directory, [NatsRegion(name) for name in names])
        try:
            for region in fleet.regions:
                region.start(directory, fleet.regions)
            for region in fleet.regions:
                others = [n for n in names if n != region.name]
                wait_for(f"{region.name} gateways", lambda r=region, o=others: r.connected_to(o))
        except BaseException:
            fleet.stop()
            raise
        return fleet

    def wait_rtt_measured(self) -> None:
        for region in self.regions:
            wait_for(f"{region.name} gateway RTTs measured", region.rtt_measured)

    def stop(self) -> None:
        for region in self.regions:
            region.stop()

    def region(self, name: str) -> NatsRegion:
        return next(r for r in self.regions if r.name == name)

    def fleet(self) -> Fleet:
        return parse_fleet(
            {
                "name": "checks-test",
                "image": "bcast-node:test",
                "regions": [
                    {"name": r.name, "geo": {"lat": 0, "lon": 0}, "replicas": 1}
                    for r in self.regions
                ],
            }
        )

    def lab_state(self) -> LabState:
        regions = [
            RegionState(
                name=r.name,
                index=index,
                nats_client_url=f"nats://127.0.0.1:{r.client_port}",
                nats_monitor_url=r.monitor,
                nats_gateway_listen=f"127.0.0.1:{r.gateway_port}",
                nats_pid=r.process.pid if r.process else None,
                links=[],
                nodes=[],
            )
            for index, r in enumerate(self.regions)
        ]
        return LabState(
            fleet_name="checks-test",
            namespace="broadcaster",
            fleet_path=str(self.directory / "fleet.yaml"),
            state_dir=str(self.directory),
            loopback_prefix="127.0",
            secrets_file=str(self.directory / "secrets.json"),
            started_at=time.time(),
            ready_after_s=None,
            regions=regions,
            dns=DnsState(address="127.0.0.1:1", pid=None, domains=[]),
            turn=TurnState(address=None, urls=[], realm=None, pid=None, reason="not in this test"),
            linkd=LinkdState(pid=None, control_socket=""),
            processes=[],
            with_nodes=False,
        )


# --- a real lab, through the real CLI ----------------------------------------------------

REPO = Path(__file__).resolve().parents[2]
# Away from the default 127.77 a developer's own lab uses; the lab moves on if taken.
TEST_PREFIX = f"127.{20 + os.getpid() % 90}"
LISTEN_LINE = re.compile(r"listening signalling=(\S+) admin=(\S+)")


def cli(*args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    """`bcastctl ARGS` in a new process, as a user runs it (plain, wide output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCAST")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200"})
    return subprocess.run(
        [sys.executable, "-m", "bcastctl", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        cwd=REPO,
    )


def lab_fleet(path: Path, base: Path = REPO / "examples" / "lab.yaml", **lab: Any) -> Path:
    data = yaml.safe_load(base.read_text())
    data.setdefault("lab", {})["loopback_prefix"] = TEST_PREFIX
    data["lab"].update(lab)
    path.write_text(yaml.safe_dump(data))
    return path


@contextlib.contextmanager
def running_lab(fleet: Path, state_dir: Path) -> Iterator[Path]:
    """`lab up` into state_dir; `lab down` afterwards whatever happens."""
    try:
        up = cli("lab", "up", "--fleet", str(fleet), "--state-dir", str(state_dir))
        assert up.returncode == 0, f"lab up failed ({up.returncode}): {up.stderr}"
        yield state_dir
    finally:
        down = cli("lab", "down", "--state-dir", str(state_dir))
        assert down.returncode == 0, f"lab down failed: {down.stderr}"


def verify(state_dir: Path, *args: str) -> tuple[int, dict[str, Any]]:
    """`verify mesh -o json` -> (exit code, the report)."""
    done = cli("-o", "json", "verify", "mesh", "--state-dir", str(state_dir), *args)
    assert done.stdout, f"no output (exit {done.returncode}): {done.stderr}"
    return done.returncode, json.loads(done.stdout)["result"]


def by_scope(report: dict[str, Any], check: str) -> dict[str, dict[str, Any]]:
    return {r["scope"]: r for r in report["results"] if r["check"] == check}


@dataclass
class ExtraNode:
    """One more node process against a lab region's NATS, with the env a test chooses."""

    name: str
    log_path: Path
    env: dict[str, str]
    process: subprocess.Popen[bytes] | None = None
    signalling: str = ""
    admin: str = ""

    def start(self) -> ExtraNode:
        environment = {k: v for k, v in os.environ.items() if not k.startswith("BCAST_")}
        environment.update(self.env)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bcastctl", "node", "serve"],
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def listening() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"node {self.name} exited: {self.log_path.read_text()}")
            match = LISTEN_LINE.search(self.log_path.read_text(errors="replace"))
            if match:
                self.signalling, self.admin = match.group(1), match.group(2)
            return match is not None

        wait_for(f"node {self.name} to listen", listening)
        return self

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)


def extra_node_env(state: LabState, region: str, name: str, **overrides: str) -> dict[str, str]:
    """The env of a node in `region` of the lab (secrets from the lab), with overrides."""
    from bcastctl.node.settings import NodeSettings
    from bcastctl.targets.lab_state import process_secret_env

    # the secrets a lab node of that region runs with (the rendered Secret references);
    # the rendered NATS config admits only the StatefulSet's pods, as users named by pod
    secrets = process_secret_env(state, state.region(region).nodes[0].name)
    env = {
        NodeSettings.name.env: name,
        NodeSettings.region.env: region,
        NodeSettings.nats_user.env: name,
        NodeSettings.fleet.env: state.fleet_name,
        NodeSettings.nats_urls.env: state.region(region).nats_client_url,
        NodeSettings.bind_address.env: "127.0.0.1",
        NodeSettings.advertise_address.env: "127.0.0.1",
        NodeSettings.signalling_port.env: "0",
        NodeSettings.admin_port.env: "0",
        **secrets,
        NodeSettings.turn_urls.env: ",".join(state.turn.urls),
        NodeSettings.log_level.env: "INFO",
    }
    env.update(overrides)
    return env
