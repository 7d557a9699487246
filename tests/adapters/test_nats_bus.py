"""The node's NATS connection stays up: after nats-py gives up a client, a new one is
dialled and every subscription is made again (real nats-server).

nats-py (nats/aio/client.py, `_process_err`): any server -ERR other than a stale
connection or a permissions violation closes the client for good, reconnect settings
notwithstanding; "maximum control line exceeded" is one (a subject over 4 KiB, the
server's default max_control_line).
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcastctl.adapters.nats_bus import BusMessage, NatsBus
from nats_testkit import NATS_SERVER, free_port, wait_for

pytestmark = pytest.mark.slow  # starts NATS servers, nodes or a lab


@pytest.fixture
def nats_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    conf = tmp_path / "nats.conf"
    conf.write_text(f'listen: "127.0.0.1:{port}"\n')
    process = subprocess.Popen(
        [str(NATS_SERVER), "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        yield f"nats://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=5)


async def test_a_server_err_closes_the_client_and_a_new_one_takes_over(nats_url: str) -> None:
    bus = await NatsBus.connect([nats_url], "test")
    got: list[bytes] = []

    async def collect(message: BusMessage) -> None:
        got.append(message.data)

    try:
        await bus.subscribe("t.x", collect)
        await bus.publish("t.x", b"before")
        await asyncio.to_thread(wait_for, "the first message", lambda: got == [b"before"], 5)
        await bus.publish("t." + "x" * 4100, b"too long a subject")  # the server answers -ERR
        await asyncio.to_thread(wait_for, "a new client", lambda: bus.reconnects == 1, 10)
        assert bus.connected
        await bus.publish("t.x", b"after")
        await asyncio.to_thread(wait_for, "a message after", lambda: b"after" in got, 5)
    finally:
        await bus.close()
