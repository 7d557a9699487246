"""Contract test of the ICE port-range hook (adapters/ice.py) against the pinned aioice.

aioice 0.13 binds each host candidate's socket with
`loop.create_datagram_endpoint(lambda: StunProtocol(self), local_addr=(address, 0))`
(aioice/ice.py, Connection.get_component_candidates), through the module's own
`asyncio` name; the hook relies on exactly that. If aioice changes it, these fail.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import aioice
import aioice.ice
import pytest

from bcastctl.adapters import ice
from nats_testkit import free_udp_range

HOST = "127.0.0.1"


@pytest.fixture
def loopback_ice() -> Iterator[None]:
    ice.offer_only(HOST)
    try:
        yield
    finally:
        ice.restore()


def test_aioice_is_the_pinned_series_the_hook_was_written_for() -> None:
    assert aioice.__version__.startswith(ice.PINNED_AIOICE)
    assert aioice.ice.asyncio.__name__ == "asyncio"  # the name the hook replaces


async def gather() -> list[aioice.Candidate]:
    connection = aioice.Connection(ice_controlling=True, components=1)
    await connection.gather_candidates()
    candidates = list(connection.local_candidates)
    connection._closing = True
    for protocol in connection._protocols:
        protocol.transport.close()
    return candidates


async def test_host_candidates_bind_inside_the_range(loopback_ice: None) -> None:
    low, high = free_udp_range(HOST, 5)
    ice.bind_ports(low, high)
    ports = [c.port for _ in range(3) for c in await gather() if c.type == "host"]
    assert len(ports) == 3 and all(low <= port <= high for port in ports), (low, high, ports)
    ice.restore()
    unpinned = [c.port for c in await gather()]
    assert unpinned and not any(low <= port <= high for port in unpinned)


async def taken_range_gathers_nothing_and_says_why() -> None:
    low, high = free_udp_range(HOST, 2)
    ice.bind_ports(low, high)
    taken = []
    try:
        for port in (low, high):
            holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            holder.bind((HOST, port))
            taken.append(holder)
        assert await gather() == []
        assert ice.gather_failure() == f"no free UDP port for ICE in {low}-{high}"
    finally:
        for holder in taken:
            holder.close()
    assert [c.port in (low, high) for c in await gather()] == [True]  # free again
    assert ice.gather_failure() is None


async def test_a_taken_range_gathers_nothing_and_says_why(loopback_ice: None) -> None:
    await taken_range_gathers_nothing_and_says_why()


def test_a_taken_range_is_recognised_on_uvloop(loopback_ice: None) -> None:
    """The node runs on uvloop, whose failed bind is OSError("could not bind to local_addr")
    with the real EADDRINUSE as its __cause__ (not in .errno, as asyncio's)."""
    import uvloop

    uvloop.run(taken_range_gathers_nothing_and_says_why())
