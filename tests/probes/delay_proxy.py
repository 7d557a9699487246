"""A TCP proxy on loopback that delays each direction by a fixed one-way latency.

Stands between bcastctl and a lab node's signalling port in the election test, so
that "the client" is nearer to some regions than others (the lab itself only
delays links between regions). It runs on the test's event loop; bytes keep
their order, each chunk leaves `one_way_ms` after it arrived.
"""

from __future__ import annotations

import asyncio
import contextlib


class DelayProxy:
    def __init__(self, target_host: str, target_port: int, one_way_ms: float) -> None:
        self.target = (target_host, target_port)
        self.delay_s = one_way_ms / 1000
        self.server: asyncio.Server | None = None
        self.port = 0
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> DelayProxy:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                if not data:
                    break
                await asyncio.sleep(max(0.0, due - loop.time()))
                writer.write(data)
                await writer.drain()
            writer.close()

        sender = asyncio.create_task(deliver())
        try:
            while data := await reader.read(65536):
                queue.put_nowait((loop.time() + self.delay_s, data))
        except ConnectionError:
            pass
        finally:
            queue.put_nowait((loop.time() + self.delay_s, b""))
            with contextlib.suppress(ConnectionError):
                await sender

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.close()
            return
        tasks = [
            asyncio.create_task(self._pump(reader, up_writer)),
            asyncio.create_task(self._pump(up_reader, writer)),
        ]
        self._tasks.update(tasks)
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.difference_update(tasks)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
