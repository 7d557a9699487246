"""Real parts for node tests: nats-server processes joined by gateways, node processes.

Everything listens on loopback with OS-picked (or probed) ports, and every process
started here is stopped by pid in a finally block by the fixtures in conftest.py.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from bcastctl.protocol import ClusterView
from bcastctl.readers.cluster import member_names
from nats_testkit import NATS_SERVER, free_port, gateway_config, gateways_connected, wait_for

SECRET = "test-cluster-secret-7f3a"
WHIP_TOKEN = "test-whip-token-91c2"
TURN_SECRET = "test-turn-secret-5d0e"


def http_json(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            return e.code, json.loads(body)
        except ValueError:
            return e.code, body.decode(errors="replace")


def http_text(url: str, timeout: float = 5.0) -> str:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return str(response.read().decode())


def stop_process(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=5)


def intercept_rtp(pc: Any, on_rtp: Callable[[bytes], bool]) -> bool:
    """Show every RTP datagram arriving on `pc`'s nominated ICE socket to `on_rtp` first;
    when it returns True the datagram is consumed and aiortc never sees it. STUN, DTLS and
    RTCP (RFC 5761 demultiplexing) always go to aiortc, so ICE consent holds. False until
    ICE has nominated a pair."""
    connection = pc.getTransceivers()[0].receiver.transport.transport._connection
    pair = connection._nominated.get(1)
    if pair is None:
        return False
    protocol = pair.protocol
    stock = protocol.datagram_received

    def datagram_received(data: bytes, addr: Any) -> None:
        is_rtp = len(data) > 12 and 127 < data[0] < 192 and not 192 <= data[1] <= 223
        if not (is_rtp and on_rtp(data)):
            stock(data, addr)

    protocol.datagram_received = datagram_received
    return True


@dataclass
class NatsServer:
    region: str
    client_port: int
    gateway_port: int
    monitor_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.client_port}"

    @property
    def monitor(self) -> str:
        return f"http://127.0.0.1:{self.monitor_port}"

    def config(self, peers: list[NatsServer]) -> str:
        return gateway_config(
            self.region,
            self.client_port,
            self.monitor_port,
            self.gateway_port,
            {p.region: p.gateway_port for p in peers},
        )

    def start(self, directory: Path, peers: list[NatsServer]) -> None:
        conf = directory / f"nats-{self.region}.conf"
        conf.write_text(self.config(peers))
        log = open(directory / f"nats-{self.region}.log", "wb")  # noqa: SIM115 - owned by process
        self.process = subprocess.Popen(
            [str(NATS_SERVER), "-c", str(conf)], stdout=log, stderr=subprocess.STDOUT
        )

    def gateways_connected(self, others: list[str]) -> bool:
        status, data = http_json(self.monitor + "/gatewayz", timeout=2)
        return status == 200 and gateways_connected(data, others)


def start_super_cluster(directory: Path, regions: list[str]) -> list[NatsServer]:
    servers = [NatsServer(r, free_port(), free_port(), free_port()) for r in regions]
    for server in servers:
        server.start(directory, servers)
    for server in servers:
        others = [r for r in regions if r != server.region]
        wait_for(
            f"{server.region} gateways to {others}",
            lambda s=server, o=others: s.gateways_connected(o),
            timeout=20,
        )
    return servers


LISTEN_LINE = re.compile(r"listening signalling=(\S+) admin=(\S+)")


@dataclass
class NodeProcess:
    name: str
    region: str
    nats: NatsServer
    address: str
    log_path: Path
    env_extra: dict[str, str] = field(default_factory=dict)
    cpus: set[int] | None = None  # pin the node (all its threads) to these CPUs (bench)
    process: subprocess.Popen[bytes] | None = None
    signalling: str = ""
    admin: str = ""

    def environment(self) -> dict[str, str]:
        # BCAST_EVENT_LOOP passes through: the suite runs on either event loop
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("BCAST_") or k == "BCAST_EVENT_LOOP"
        }
        env.update(
            {
                "BCAST_NODE_NAME": self.name,
                "BCAST_REGION": self.region,
                "BCAST_FLEET": "testfleet",
                "BCAST_NATS_URL": self.nats.url,
                "BCAST_BIND_ADDRESS": self.address,
                "BCAST_ADVERTISE_ADDRESS": self.address,
                "BCAST_SIGNALLING_PORT": "0",
                "BCAST_ADMIN_PORT": "0",
                "BCAST_CLUSTER_SECRET": SECRET,
                "BCAST_WHIP_TOKEN": WHIP_TOKEN,
                "BCAST_LOG_LEVEL": "INFO",
                # SIGTERM (stop()) ends the node at once unless a test asks for a drain
                "BCAST_DRAIN_DEADLINE": "0",
            }
        )
        env.update(self.env_extra)
        return env

    def start(self) -> None:
        log = open(self.log_path, "wb")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bcastctl", "node", "serve"],
            env=self.environment(),
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=None if self.cpus is None else self._pin,
        )

    def _pin(self) -> None:
        assert self.cpus is not None
        os.sched_setaffinity(0, self.cpus)

    def wait_listening(self, timeout: float = 20.0) -> None:
        def listening() -> bool:
            assert self.process is not None
            if self.process.poll() is not None:
                raise AssertionError(f"node {self.name} exited: {self.log()}")
            match = LISTEN_LINE.search(self.log())
            if match:
                self.signalling, self.admin = match.group(1), match.group(2)
            return match is not None

        wait_for(f"node {self.name} to listen", listening, timeout)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def cluster(self) -> dict[str, Any]:
        status, data = http_json(self.admin + "/api/cluster")
        assert status == 200, data
        return dict(data)

    def member_names(self) -> set[str]:
        return member_names(cast(ClusterView, self.cluster()))

    def metric(self, name: str) -> float:
        for line in http_text(self.admin + "/metrics").splitlines():
            if line.startswith(f"bcast_node_{name} "):
                return float(line.split()[1])
        return 0.0

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=5)

    def stop(self) -> None:
        if self.process is not None:
            stop_process(self.process)


async def until(what: str, predicate: Callable[[], bool], limit_s: float = 15.0) -> None:
    """Poll `predicate` on the event loop until true (AssertionError naming `what` after
    `limit_s`); for tests whose clients run on the same loop."""
    deadline = time.monotonic() + limit_s
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


# What the `start_node` fixture (conftest.py) yields: start a node process, get it back.
NodeFactory = Callable[..., NodeProcess]
