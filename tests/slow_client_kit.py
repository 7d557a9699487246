"""A slow HTTP client on a real socket (slowloris): headers or a body a byte at a time."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass
class Trickled:
    held_s: float  # from connecting to the server closing the connection
    answer: bytes  # what the server sent before closing


async def trickle(
    url: str,
    slowly: bytes,
    every_s: float,
    at_once: bytes = b"",
    limit_s: float = 30.0,
    source: str | None = None,
) -> Trickled:
    """Connect (from the `source` address), send `at_once`, then `slowly` one byte every
    `every_s`, until the server closes the connection."""
    parts = urlsplit(url)
    started = time.monotonic()
    local = (source, 0) if source else None
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port, local_addr=local)
    answer = b""

    async def read() -> None:
        nonlocal answer
        while chunk := await reader.read(4096):
            answer += chunk

    reading = asyncio.create_task(read())
    writer.write(at_once)
    try:
        for byte in slowly:
            if reading.done() or time.monotonic() - started > limit_s:
                break
            writer.write(bytes([byte]))
            try:
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.wait({reading}, timeout=every_s)
        await asyncio.wait_for(asyncio.shield(reading), limit_s)
    except (ConnectionError, TimeoutError):
        pass
    finally:
        reading.cancel()
        writer.close()
    return Trickled(time.monotonic() - started, answer)


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
