"""Run the monitor: rounds on an interval, `/metrics` over HTTP, until SIGINT/SIGTERM.

The HTTP server answers GET /metrics (Prometheus text format) and GET /healthz, and
nothing else; it listens on loopback unless told otherwise, with the bounds of
adapters/http_server.py (EXPORTER_BOUNDS: header and body deadlines, a connection cap).
A round that overruns the interval delays the next one (rounds never overlap); a round
that fails with a BcastError is logged and counted (`bcast_monitor_round_errors_total`)
and the next one runs as planned.
On a signal the running round is cancelled, the server stops and the target is closed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from bcastctl.adapters.http_server import BoundedServer, ConnectionBounds, serve_bounded
from bcastctl.errors import BcastError, UsageError
from bcastctl.monitor.metrics import MonitorMetrics
from bcastctl.monitor.rounds import MonitorOptions, Round, one_round
from bcastctl.targets.base import Target

log = logging.getLogger(__name__)
# Prometheus sends a whole scrape request at once and keeps its connection: a request's
# headers get 5 s, a body (none is expected) 5 s, and 64 connections at once
EXPORTER_BOUNDS = ConnectionBounds(header_deadline_s=5.0, body_deadline_s=5.0, max_connections=64)


@dataclass(frozen=True)
class Listen:
    host: str = "127.0.0.1"
    port: int = 9100


def _app(metrics: MonitorMetrics) -> web.Application:
    async def serve_metrics(_: web.Request) -> web.Response:
        response = web.Response(body=metrics.exposition())
        response.headers["Content-Type"] = CONTENT_TYPE_LATEST
        return response

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    app = web.Application(client_max_size=1024)
    app.router.add_get("/metrics", serve_metrics)
    app.router.add_get("/healthz", healthz)
    return app


async def _start_server(app: web.Application, listen: Listen) -> BoundedServer:
    try:
        return await serve_bounded(app, listen.host, listen.port, EXPORTER_BOUNDS, "monitor")
    except OSError as e:
        raise UsageError(
            f"--listen {listen.host}:{listen.port}: cannot listen: {e.strerror or e}"
        ) from e


async def _rounds(
    target: Target,
    options: MonitorOptions,
    metrics: MonitorMetrics,
    on_round: Callable[[Round], None] | None,
) -> None:
    while True:
        started = time.monotonic()
        try:
            done = await one_round(target, options)
        except BcastError as e:  # e.g. a cluster's credentials expired: the next round may do
            log.warning("monitor: round failed: %s", e.message)
            metrics.record_error()
        else:
            metrics.record(done)
            if on_round is not None:
                on_round(done)
        await asyncio.sleep(max(0.0, options.interval_s - (time.monotonic() - started)))


async def run_monitor(
    target: Target,
    options: MonitorOptions,
    listen: Listen,
    on_round: Callable[[Round], None] | None = None,
    on_listening: Callable[[Listen], None] | None = None,
) -> int:
    """Serve until SIGINT or SIGTERM; 0 after a clean shutdown."""
    options.validate()
    metrics = MonitorMetrics(options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    server: BoundedServer | None = None
    rounds: asyncio.Task[None] | None = None
    try:
        server = await _start_server(_app(metrics), listen)
        if on_listening is not None:
            on_listening(listen)
        rounds = asyncio.create_task(_rounds(target, options, metrics, on_round))
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait({rounds, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if rounds.done():
            rounds.result()  # a crash of the loop is an error, not a quiet exit
        return 0
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        if rounds is not None:
            rounds.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await rounds
        if server is not None:
            await server.close()
        await target.close()
