"""The delay link daemon as a real process: latency, order, cut/heal, the gateway check."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import stat
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcastctl.lab.linkctl import link_request
from nats_testkit import free_port

ONE_WAY_MS = 15.0


class EchoServer:
    """A TCP echo server on 127.0.0.1, port picked by the OS, in a thread."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.running = True
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._echo, args=(conn,), daemon=True).start()

    @staticmethod
    def _echo(conn: socket.socket) -> None:
        with conn:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            while data := conn.recv(65536):
                conn.sendall(data)

    def close(self) -> None:
        self.running = False
        self.sock.close()


@pytest.fixture
def echo() -> Iterator[EchoServer]:
    server = EchoServer()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def linkd(tmp_path: Path, echo: EchoServer) -> Iterator[dict[str, object]]:
    """linkd with 'open' (anyone may dial) and 'gated' (only NATS gateway 'east') links."""
    links = {
        name: {
            "name": name,
            "listen_host": "127.0.0.1",
            "listen_port": free_port(),
            "target_host": "127.0.0.1",
            "target_port": echo.port,
            "one_way_ms": ONE_WAY_MS,
            "gateway_from": gate,
        }
        for name, gate in (("open", None), ("gated", "east"))
    }
    config = tmp_path / "links.json"
    config.write_text(json.dumps({"links": list(links.values())}))
    control = tmp_path / "linkd.sock"
    argv = [sys.executable, "-m", "bcastctl.lab.linkd", "--config", str(config)]
    process = subprocess.Popen([*argv, "--control", str(control)], stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while not control.exists():
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            assert time.monotonic() < deadline, "linkd did not start"
            time.sleep(0.02)
        yield {"links": links, "control": str(control), "process": process}
    finally:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _rtt_ms(sock: socket.socket, payload: bytes = b"x" * 32) -> float:
    start = time.perf_counter()
    sock.sendall(payload)
    received = b""
    while len(received) < len(payload):
        received += sock.recv(65536)
    return (time.perf_counter() - start) * 1000


def test_round_trip_gains_twice_the_one_way_latency(linkd: dict, echo: EchoServer) -> None:
    """The fastest round trip through the link is the fastest direct one plus 2 x one-way.

    linkd holds every chunk until `delay` after it arrived (never less), and a busy CPU
    only ever adds time: the minimum of many samples is the link's own figure, the median
    is that plus whatever the machine's load adds to the three processes in the path (a
    median was 2+ ms over at a load average of 8 on 2 cores). Direct and linked samples
    alternate so that both see the same load. The median's precision on a quiet machine
    is measured in bench/lab_link_latency.py, not asserted here.
    """
    direct_ms, through_ms = [], []
    with _connect(echo.port) as direct, _connect(linkd["links"]["open"]["listen_port"]) as link:
        for _ in range(60):
            direct_ms.append(_rtt_ms(direct))
            through_ms.append(_rtt_ms(link))
    added = min(through_ms) - min(direct_ms)
    median = statistics.median(through_ms) - statistics.median(direct_ms)
    print(f"\nlinkd: added RTT min {added:.2f} ms, p50 {median:.2f} ms, one-way {ONE_WAY_MS} ms")
    assert 2 * ONE_WAY_MS - 0.5 <= added <= 2 * ONE_WAY_MS + 2.0, (added, median)


def test_bytes_keep_their_order_when_the_delay_drops(linkd: dict) -> None:
    with _connect(linkd["links"]["open"]["listen_port"]) as sock:
        sent = b"".join(f"{i:06d}".encode() for i in range(2000))
        sock.sendall(sent[: len(sent) // 2])
        asyncio.run(link_request(linkd["control"], {"op": "slow", "links": ["open"], "ms": 0}))
        sock.sendall(sent[len(sent) // 2 :])
        received = b""
        while len(received) < len(sent):
            received += sock.recv(65536)
    assert received == sent


def test_cut_drops_open_connections_and_refuses_new_ones_until_healed(linkd: dict) -> None:
    port = linkd["links"]["open"]["listen_port"]
    with _connect(port) as sock:
        assert _rtt_ms(sock) > 0
        asyncio.run(link_request(linkd["control"], {"op": "cut", "links": ["open"]}))
        sock.settimeout(2)
        with pytest.raises((ConnectionError, TimeoutError, AssertionError)):
            sock.sendall(b"hello")
            assert sock.recv(100) != b"", "connection closed"
    with pytest.raises(ConnectionRefusedError):
        _connect(port)
    links = asyncio.run(link_request(linkd["control"], {"op": "heal", "links": ["open"]}))
    assert links[0]["cut"] is False and links[0]["one_way_ms"] == ONE_WAY_MS
    with _connect(port) as sock:
        assert _rtt_ms(sock) >= 2 * ONE_WAY_MS - 1


def test_gated_link_passes_only_its_own_gateway(linkd: dict) -> None:
    port = linkd["links"]["gated"]["listen_port"]
    with _connect(port) as sock:
        sock.sendall(b'CONNECT {"gateway":"west","name":"x"}\r\n')
        sock.settimeout(3)
        assert sock.recv(100) == b""  # closed: a foreign gateway must not use this link
    with _connect(port) as sock:
        hello = b'CONNECT {"gateway":"east","name":"x"}\r\nPING\r\n'
        sock.sendall(hello)
        received = b""
        while len(received) < len(hello):
            received += sock.recv(100)
        assert received == hello


def test_control_rejects_unknown_links_and_bad_requests(linkd: dict) -> None:
    """The fixture's first request is sent as soon as the socket file exists: linkd makes it
    appear only once it listens (bind creates the file before listen(2); a request in
    between was refused once in a lab test run), and only for its owner."""
    from bcastctl.errors import OperationFailed

    assert stat.S_IMODE(os.stat(linkd["control"]).st_mode) == 0o600

    with pytest.raises(OperationFailed, match="unknown link"):
        asyncio.run(link_request(linkd["control"], {"op": "cut", "links": ["nope"]}))
    with pytest.raises(OperationFailed, match="ms between"):
        asyncio.run(link_request(linkd["control"], {"op": "slow", "ms": -1}))
    status = asyncio.run(link_request(linkd["control"], {"op": "status"}))
    assert {link["name"] for link in status} == {"open", "gated"}  # still serving
