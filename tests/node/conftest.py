"""Fixtures for node tests: a two-region NATS super-cluster and node processes.

Every process is started on loopback, and stopped by pid in a finally block.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from node_testkit import NatsServer, NodeProcess, start_super_cluster, stop_process


@pytest.fixture(scope="module")
def super_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[NatsServer]]:
    """Two NATS servers (regions r1, r2) joined by gateways, both ways connected."""
    directory = tmp_path_factory.mktemp("nats")
    servers: list[NatsServer] = []
    try:
        servers = start_super_cluster(directory, ["r1", "r2"])
        yield servers
    finally:
        for server in servers:
            if server.process is not None:
                stop_process(server.process)


NodeFactory = Callable[..., NodeProcess]


@pytest.fixture
def start_node(tmp_path: Path) -> Iterator[NodeFactory]:
    """start_node(name, nats_server, address="127.0.0.1", **env) -> a listening node."""
    started: list[NodeProcess] = []

    def start(
        name: str, nats: NatsServer, address: str = "127.0.0.1", wait: bool = True, **env: str
    ) -> NodeProcess:
        node = NodeProcess(name, nats.region, nats, address, tmp_path / f"{name}.log", env)
        started.append(node)
        node.start()
        if wait:
            node.wait_listening()
        return node

    try:
        yield start
    finally:
        for node in started:
            node.stop()
