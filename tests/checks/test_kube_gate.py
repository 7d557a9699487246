"""deploy's health gate is `verify mesh`, region-scoped, through the kube target.

Three fake clusters (shimmed kmock) take the manifests; behind their pod proxies run a
real NATS super-cluster and one real `bcastctl node serve` per region, named as the
StatefulSet's pod (`<region>-broadcaster-0`). The gate runs the kube checks and the
mesh checks (nats-gateways, membership, registry) for the region just deployed. When
a node dies, the canary's gate fails on membership and the canary is rolled back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from checks_testkit import NatsRegions, free_port, http_json, wait_for

from bcastctl.cli.main import run
from bcastctl.node.settings import NodeSettings
from fakes.clusters import ClusterSet, cluster_set
from fakes.fleets import envelope, fleet_document, seed_secrets, write_fleet

NAMES = ["a", "b", "c"]
SECRET = "gate-test-cluster-secret"
GATE = ["--gate-check", "!mcs-dns", "--gate-check", "!turn"]  # no DNS server, no TURN here

pytestmark = pytest.mark.slow


@dataclass
class Node:
    name: str
    admin_port: int
    signalling_port: int
    process: subprocess.Popen[bytes]
    env: dict[str, str]
    log: Path
    stopped: bool = False

    def restart_if_exited(self) -> None:
        """What the kubelet does: a node that exited (deploy drained it) comes back."""
        if not self.stopped and self.process.poll() is not None:
            self.process = spawn_node(self.env, self.log)

    def stop(self) -> None:
        self.stopped = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


def start_node(region: str, nats_client_port: int, fleet_name: str, log: Path) -> Node:
    name = f"{region}-broadcaster-0"
    admin, signalling = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCAST_")}
    env |= {
        NodeSettings.name.env: name,
        NodeSettings.region.env: region,
        NodeSettings.fleet.env: fleet_name,
        NodeSettings.lat.env: "0",
        NodeSettings.lon.env: "0",
        NodeSettings.nats_urls.env: f"nats://127.0.0.1:{nats_client_port}",
        NodeSettings.bind_address.env: "127.0.0.1",
        NodeSettings.advertise_address.env: "127.0.0.1",
        NodeSettings.signalling_port.env: str(signalling),
        NodeSettings.admin_port.env: str(admin),
        NodeSettings.cluster_secret.env: SECRET,
        NodeSettings.whip_token.env: "gate-test-whip",
        NodeSettings.turn_secret.env: "gate-test-turn",
        NodeSettings.peer_timeout_s.env: "1.0",
    }
    return Node(name, admin, signalling, spawn_node(env, log), env, log)


def spawn_node(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bcastctl", "node", "serve"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


@contextmanager
def kubelet(nodes: dict[str, Node]) -> Iterator[None]:
    """Restart nodes that exit while deploy drains and replaces their pods."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.1):
            for node in nodes.values():
                node.restart_if_exited()

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(5)


@pytest.fixture
def mesh(tmp_path: Path) -> Iterator[tuple[NatsRegions, dict[str, Node]]]:
    nats = NatsRegions.start(tmp_path, NAMES)
    nodes: dict[str, Node] = {}
    try:
        for region in NAMES:
            nodes[region] = start_node(
                region, nats.region(region).client_port, "bcast", tmp_path / f"node-{region}.log"
            )
        for node in nodes.values():
            wait_for(
                f"{node.name} sees every node",
                lambda n=node: (
                    len(http_json(f"http://127.0.0.1:{n.admin_port}/api/cluster")["members"]) == 2
                ),
                timeout=30,
            )
        yield nats, nodes
    finally:
        for node in nodes.values():
            node.stop()
        nats.stop()


def wire_pod_proxies(clusters: ClusterSet, nats: NatsRegions, nodes: dict[str, Node]) -> None:
    for region in NAMES:
        node = nodes[region]
        backends = {
            ("broadcaster", node.name, 9090): f"http://127.0.0.1:{node.admin_port}",
            ("broadcaster", node.name, 8080): f"http://127.0.0.1:{node.signalling_port}",
            ("broadcaster", f"{region}-nats-0", 8222): nats.region(region).monitor,
        }
        clusters.call(lambda r=region, b=backends: clusters.clusters[r].pod_backends.update(b))


def deploy(fleet: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict]:
    argv = ["-o", "json", "-f", str(fleet), "deploy", "--yes", "--timeout", "10", *GATE, *extra]
    code = run(argv)
    return code, envelope(capsys.readouterr().out)


def test_the_mesh_gate_passes_on_a_healthy_mesh_and_rolls_back_the_canary_when_a_node_dies(
    mesh, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    nats, nodes = mesh
    with cluster_set(NAMES) as clusters:
        for region in NAMES:
            seed_secrets(clusters, region)
        wire_pod_proxies(clusters, nats, nodes)
        kubeconfig = clusters.write_kubeconfig(tmp_path / "kc")
        document = fleet_document(kubeconfig, image="bcast-node:1", regions=NAMES)
        document["nats"] = {"cluster_size": 1}
        for region in document["regions"]:
            region["replicas"] = 1
        fleet = write_fleet(tmp_path / "fleet.yaml", document)

        code, result = deploy(fleet, capsys)
        assert code == 0, result
        assert [(r["state"], r["gate"]) for r in result["regions"]] == [("deployed", "passed")] * 3

        nodes["b"].stop()
        wait_for(
            "a's node to see b's node gone",
            lambda: (
                [
                    m["name"]
                    for m in http_json(f"http://127.0.0.1:{nodes['a'].admin_port}/api/cluster")[
                        "members"
                    ]
                ]
                == ["c-broadcaster-0"]
            ),
            timeout=20,
        )
        document["image"] = "bcast-node:2"
        write_fleet(fleet, document)
        with kubelet(nodes):  # a's node drains (no session), exits and comes back
            code, result = deploy(fleet, capsys, "--gate-wait", "20s")
        assert code == 1
        canary = result["regions"][0]
        assert canary["state"] == "rolled-back" and canary["rolled_back_to"] == 1
        assert "health gate failed" in canary["failure"] and "membership" in canary["failure"]
        assert "b-broadcaster-0" in canary["failure"], canary["failure"]
        assert [r["state"] for r in result["regions"][1:]] == ["not-started"] * 2
        # the new pod is drained before it is replaced, and so is the pod the rollback replaces
        assert [(d["pod"], d["phase"], d["sessions"], d["cut"]) for d in canary["drains"]] == [
            ("a-broadcaster-0", "rollout", 0, 0),
            ("a-broadcaster-0", "rollback", 0, 0),
        ]
        sts = clusters.live("a", "statefulsets", "broadcaster", "a-broadcaster")
        assert sts["spec"]["template"]["spec"]["containers"][0]["image"] == "bcast-node:1"
