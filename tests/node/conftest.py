"""Fixtures for node tests: a two-region NATS super-cluster and node processes.

Every process is started on loopback, and stopped by pid in a finally block.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import pytest
from node_testkit import NatsServer, NodeFactory, NodeProcess, start_super_cluster, stop_process


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


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session for WHIP/WHEP clients; ICE offers loopback while it is open."""
    from bcastctl.adapters import ice

    ice.offer_only("127.0.0.1")
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            yield session
    finally:
        ice.restore()


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


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[tuple[str, int]]:
    """coturn with use-auth-secret on a free loopback port; its secret in a mode-600 file."""
    import shutil
    import socket
    import subprocess
    import time

    from node_testkit import TURN_SECRET, free_port

    binary = shutil.which("turnserver")
    if binary is None:
        pytest.skip("coturn is not installed (Debian package: coturn)")
    host, port = "127.0.0.1", free_port()
    conf = tmp_path / "turnserver.conf"
    conf.touch(mode=0o600)
    conf.write_text(
        f"listening-ip={host}\nlistening-port={port}\nrelay-ip={host}\n"
        f"use-auth-secret\nstatic-auth-secret={TURN_SECRET}\nrealm=bcast.test\n"
        "no-cli\nno-tls\nno-dtls\nallow-loopback-peers\nfingerprint\n"
        f"pidfile={tmp_path / 'turn.pid'}\nuserdb={tmp_path / 'turndb'}\n"
        f"log-file={tmp_path / 'turn.log'}\nsimple-log\nno-stdout-log\n"
    )
    process = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:  # ready when its TCP listener (same port) accepts
            try:
                socket.create_connection((host, port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError("turnserver did not start") from None
                time.sleep(0.05)
        yield host, port
    finally:
        stop_process(process)
