"""Real parts for check tests without a whole lab: NATS servers joined by gateways.

`NatsRegions.start(dir, ["a", "b", "c"])` runs one nats-server per region on
loopback with probed ports; `lab_state()` describes them as a LabState (no nodes)
so the real LabTarget reaches them. Every process is stopped by pid in `stop()`.
"""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sysconfig
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bcastctl.fleet import Fleet, parse_fleet
from bcastctl.targets.lab_state import (
    DnsState,
    LabState,
    LinkdState,
    RegionState,
    TurnState,
)

NATS_SERVER = Path(sysconfig.get_path("scripts")) / "nats-server"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http_json(url: str, timeout: float = 2.0) -> Any:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read())


def wait_for(what: str, predicate: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
        except (OSError, ValueError) as e:
            last = e
        if last is True or (last and not isinstance(last, Exception)):
            return last
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what} (last: {last!r})")


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
        gateways = ", ".join(
            f'{{name: "{r.name}", url: "nats://127.0.0.1:{r.gateway_port}"}}' for r in everyone
        )
        conf = directory / f"nats-{self.name}.conf"
        conf.write_text(
            f'server_name: "{self.name}"\nlisten: "127.0.0.1:{self.client_port}"\n'
            f'http: "127.0.0.1:{self.monitor_port}"\n'
            f'gateway {{ name: "{self.name}", listen: "127.0.0.1:{self.gateway_port}", '
            f"gateways: [{gateways}] }}\n"
        )
        with open(directory / f"nats-{self.name}.log", "wb") as log:
            self.process = subprocess.Popen(
                [str(NATS_SERVER), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
            )

    def connected_to(self, others: list[str]) -> bool:
        data = http_json(self.monitor + "/gatewayz")
        outbound = data.get("outbound_gateways") or {}
        inbound = data.get("inbound_gateways") or {}
        return all(name in outbound and name in inbound for name in others)

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
