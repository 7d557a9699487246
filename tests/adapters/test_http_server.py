"""Whom a newcomer replaces when a bounded server is at its connection cap, on real sockets
(loopback source addresses stand for clients): an idle keep-alive connection first, then a
slow sender of headers from an address holding more connections, then, among clients with
one connection each, one that has been sending headers for over a second; else 503."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import aiohttp
import pytest
from aiohttp import web

from bcastctl.adapters.http_server import BoundedServer, ConnectionBounds, serve_bounded
from slow_client_kit import Trickled, status_of, trickle

SLOW = b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: " + b"a" * 100


@pytest.fixture
async def server() -> AsyncIterator[BoundedServer]:
    async def hello(_: web.Request) -> web.Response:
        return web.Response(text="hello")

    app = web.Application()
    app.router.add_get("/", hello)
    bounded = await serve_bounded(app, "127.0.0.1", 0, ConnectionBounds(5.0, 5.0, 4), "test")
    try:
        yield bounded
    finally:
        await bounded.close()


async def get_from(address: str, url: str) -> int:
    connector = aiohttp.TCPConnector(local_addr=(address, 0), force_close=True)
    async with aiohttp.ClientSession(connector=connector) as http, http.get(url) as response:
        return response.status


def slow_from(address: str, url: str) -> asyncio.Task[Trickled]:
    return asyncio.create_task(trickle(url, SLOW, 0.2, source=address, limit_s=8))


async def stop(slow: list[asyncio.Task[Trickled]]) -> None:
    for task in slow:
        task.cancel()
    await asyncio.gather(*slow, return_exceptions=True)


async def one_closed(slow: list[asyncio.Task[Trickled]]) -> Trickled:
    """The first of the slow clients the server closes (within 2 s), the others still on."""
    done, pending = await asyncio.wait(slow, timeout=2, return_when=asyncio.FIRST_COMPLETED)
    assert len(done) == 1 and len(pending) == len(slow) - 1, (len(done), len(pending))
    return done.pop().result()


async def test_one_address_at_the_cap_is_refused_and_others_replace_it(
    server: BoundedServer,
) -> None:
    url = f"http://127.0.0.1:{server.port}"
    slow = [slow_from("127.0.0.101", url) for _ in range(4)]
    await asyncio.sleep(0.3)
    more = await trickle(url, SLOW, 0.2, source="127.0.0.101", limit_s=3)
    assert status_of(more.answer) == 503 and b"Retry-After: 1" in more.answer
    assert await get_from("127.0.0.102", url + "/") == 200  # one of the four makes room
    evicted = await one_closed(slow)
    assert status_of(evicted.answer) == 408 and b"to make room" in evicted.answer
    assert (server.guard.refused, server.guard.evicted) == (1, 1)
    await stop(slow)


@pytest.mark.slow  # waits EVICTABLE_AFTER_S
async def test_among_one_connection_clients_a_slow_one_makes_room_after_a_second(
    server: BoundedServer,
) -> None:
    url = f"http://127.0.0.1:{server.port}"
    slow = [slow_from(f"127.0.0.{110 + n}", url) for n in range(4)]
    await asyncio.sleep(0.3)
    assert await get_from("127.0.0.120", url + "/") == 503  # all four just started
    await asyncio.sleep(1.0)
    assert await get_from("127.0.0.120", url + "/") == 200
    evicted = await one_closed(slow)
    assert status_of(evicted.answer) == 408 and b"to make room" in evicted.answer
    await stop(slow)


async def test_an_idle_keep_alive_connection_goes_first(server: BoundedServer) -> None:
    url = f"http://127.0.0.1:{server.port}"
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", server.port, local_addr=("127.0.0.130", 0)
    )
    writer.write(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
    assert (await reader.readuntil(b"hello")).startswith(b"HTTP/1.1 200")
    slow = [slow_from("127.0.0.131", url) for _ in range(3)]
    await asyncio.sleep(0.3)
    assert await get_from("127.0.0.132", url + "/") == 200
    assert await asyncio.wait_for(reader.read(), 2) == b""  # closed, without a 408
    assert all(not task.done() for task in slow)  # the slow ones were not touched
    writer.close()
    await stop(slow)
