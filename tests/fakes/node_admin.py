"""A fake broadcaster node's admin port, behind a fake cluster's pod proxy.

It serves what deploy's drained rollout reads from a real node (node/admin.py,
node/service.py): POST /api/drain answers 202 with `sessions` and `deadline_s` (the
seconds left before the node cuts what is left), DELETE /api/drain cancels a drain before
its deadline (200; 409 when too late), and GET /metrics carries
`bcast_node_sessions` and `bcast_node_draining`. Its live sessions either end during
a drain (viewers leaving, one every `leave_every_s`) or stay until the deadline; then
the node "exits" and comes back as a fresh process (no session, not draining), as a
container restarted by the kubelet would. What it drained and cut is recorded.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp.web
import attrs


@attrs.define
class FakeNode:
    pod: str
    sessions: int = 0
    sessions_leave: bool = True  # False: they stay until the drain deadline
    deadline_s: float = 2.0
    leave_every_s: float = 0.05
    on_drain: Callable[[FakeNode], None] = lambda node: None
    draining: bool = False
    drained: int = 0  # sessions that ended during drains
    cut: int = 0  # sessions still live when a drain deadline passed
    drains: int = 0  # drains begun
    undrains: int = 0  # drains cancelled (DELETE /api/drain) before their deadline
    url: str = ""
    _deadline: float = 0.0
    _runner: aiohttp.web.AppRunner | None = None
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        app = aiohttp.web.Application()
        app.router.add_post("/api/drain", self._drain)
        app.router.add_delete("/api/drain", self._undrain)
        app.router.add_get("/metrics", self._metrics)
        self._runner = aiohttp.web.AppRunner(app)
        await self._runner.setup()
        site = aiohttp.web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _drain(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        if not self.draining:
            self.draining, self.drains = True, self.drains + 1
            self._deadline = time.monotonic() + self.deadline_s
            self.on_drain(self)
            self._task = asyncio.get_running_loop().create_task(self._drain_then_exit())
        left = max(0.0, self._deadline - time.monotonic())
        body = {"draining": True, "sessions": self.sessions, "deadline_s": round(left, 1)}
        return aiohttp.web.json_response(body, status=202)

    async def _undrain(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        """As the node's DELETE /api/drain: cancelled before the deadline, 409 after."""
        if not self.draining or time.monotonic() >= self._deadline:
            return aiohttp.web.json_response({"error": "cannot cancel the drain"}, status=409)
        if self._task is not None:
            self._task.cancel()
        self.draining, self.undrains = False, self.undrains + 1
        return aiohttp.web.json_response({"draining": False, "sessions": self.sessions})

    async def _drain_then_exit(self) -> None:
        while self.sessions and time.monotonic() < self._deadline:
            await asyncio.sleep(self.leave_every_s if self.sessions_leave else 0.05)
            if self.sessions_leave and self.sessions:
                self.sessions -= 1
                self.drained += 1
        self.cut += self.sessions
        self.sessions, self.draining = 0, False  # exited; the kubelet restarts it fresh

    async def _metrics(self, request: aiohttp.web.Request) -> aiohttp.web.Response:
        text = (
            "# TYPE bcast_node_sessions gauge\n"
            f"bcast_node_sessions {self.sessions}\n"
            "# TYPE bcast_node_draining gauge\n"
            f"bcast_node_draining {int(self.draining)}\n"
        )
        return aiohttp.web.Response(text=text, content_type="text/plain")
