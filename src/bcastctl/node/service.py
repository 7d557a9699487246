"""The node process: wires settings, cluster (NATS), media and the two HTTP servers.

`serve(settings)` runs until SIGINT (or `stop`), then closes peer connections, leaves
NATS and stops the servers. SIGTERM (Kubernetes stopping the pod) or POST /api/drain on
the admin port drains first: /readyz turns not ready, new offers are placed on other
nodes (placement.py), and live sessions are kept until they end or the drain deadline
(BCAST_DRAIN_DEADLINE) passes; then the node stops. Readiness lives on the admin port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from typing import Any

from aiohttp import web

from bcastctl.adapters.http_server import (
    BoundedServer,
    ConnectionBounds,
    ConnectionGuard,
    serve_bounded,
)
from bcastctl.errors import ConfigError
from bcastctl.node.admin import create_admin_app
from bcastctl.node.cluster import Cluster
from bcastctl.node.http_errors import one_line_protocol_errors
from bcastctl.node.metrics import Metrics
from bcastctl.node.settings import NodeSettings

log = logging.getLogger("bcastctl.node")


class Node:
    def __init__(self, settings: NodeSettings) -> None:
        from bcastctl.node.hub import MediaHub

        self.settings = settings
        self.metrics = Metrics()
        self.cluster = Cluster(settings, self.metrics, self.sessions)
        self.hub = MediaHub(settings, self.metrics, self.cluster)
        self.cluster.on_registry_change = self.hub.registry_changed
        self.cluster.placement_fields = self.placement_fields
        from bcastctl.node.routing import NodeCalls

        self.calls = NodeCalls(self)
        self.cluster.services[self.calls.subject] = self.calls.on_call
        self.http_guards: list[ConnectionGuard] = []  # one per HTTP server, for the metrics
        self.draining = False
        self.drain_requested = asyncio.Event()
        self._drain_deadline = 0.0  # time.monotonic() when a drain cuts what is left
        self._stopping = False  # SIGTERM: a drain that no undrain() cancels

    def placement_fields(self) -> dict[str, object]:
        """What other nodes' placement reads from this node's heartbeat."""
        return {
            "draining": self.draining,
            "public_url": self.settings.public_url,
            "relays": sorted(self.hub.remote),
            "drain_left_s": round(max(0.0, self._drain_deadline - time.monotonic()), 1)
            if self.draining
            else 0.0,
        }

    def drain(self, stopping: bool = False) -> float:
        """Start draining (idempotent); the seconds left before live sessions are cut.
        `stopping`: the process was told to stop (SIGTERM): the drain cannot be cancelled."""
        self._stopping = self._stopping or stopping
        if not self.draining:
            self.draining = True
            self._drain_deadline = time.monotonic() + self.settings.drain_deadline_s
            log.info(
                "draining: %d sessions, deadline %.0f s",
                self.sessions(),
                self.settings.drain_deadline_s,
            )
            self.cluster.announce()
            self.drain_requested.set()
        return max(0.0, self._drain_deadline - time.monotonic())

    def undrain(self) -> bool:
        """Stop draining before the deadline (deploy backing off a drain that would cut more
        sessions than it may): ready and placing again. False when it is too late (the
        deadline passed), the process is stopping (SIGTERM) or it was not draining."""
        if self._stopping or not self.draining or time.monotonic() >= self._drain_deadline:
            return False
        self.draining = False
        self.drain_requested.clear()
        log.info("drain cancelled: %d sessions kept", self.sessions())
        self.cluster.announce()
        return True

    async def drained(self) -> int:
        """Wait until no session is left or the deadline passes; the sessions cut.
        Returns -1 at once when the drain is cancelled (undrain)."""
        while self.sessions() and time.monotonic() < self._drain_deadline:
            if not self.draining:
                return -1
            await asyncio.sleep(0.1)  # sessions end in many places: polled, not signalled
        if not self.draining:
            return -1
        cut = self.sessions()
        log.info("drained: %s", f"{cut} sessions cut at the deadline" if cut else "no session left")
        return cut

    def readiness(self) -> tuple[bool, str]:
        if self.draining:
            left = max(0.0, self._drain_deadline - time.monotonic())
            return False, f"draining: {self.sessions()} sessions left, {left:.0f} s to the deadline"
        return self.cluster.readiness()

    def sessions(self) -> int:
        return self.hub.session_count()

    def count_rejected_request(self) -> None:
        self.metrics.inc("http_rejected_total")

    def refresh_gauges(self) -> None:
        ready, _ = self.readiness()
        self.metrics.set("ready", 1.0 if ready else 0.0)
        self.metrics.set("draining", 1.0 if self.draining else 0.0)
        self.metrics.set("nats_connected", 1.0 if self.cluster.connected else 0.0)
        bus = self.cluster.bus
        self.metrics.counters["nats_reconnects_total"] = float(bus.reconnects if bus else 0)
        self.metrics.set("members", len(self.cluster.membership.members))
        guards = self.http_guards
        self.metrics.set("http_connections", sum(g.open for g in guards))
        for name, count in (
            ("http_connections_refused_total", sum(g.refused for g in guards)),
            ("http_connections_evicted_total", sum(g.evicted for g in guards)),
            ("http_header_timeouts_total", sum(g.header_timeouts for g in guards)),
        ):
            self.metrics.counters[name] = float(count)
        self.metrics.counters.setdefault("rejected_heartbeats_total", 0.0)
        self.metrics.counters.setdefault("stale_heartbeats_total", 0.0)
        self.hub.refresh_gauges()

    async def start(self) -> None:
        self.cluster.start()
        await self.hub.start()

    async def stop(self) -> None:
        await self.calls.close()
        await self.hub.stop()
        await self.cluster.stop()


async def _site(
    node: Node, app: web.Application, port: int, what: str, cancel_on_leave: bool = False
) -> BoundedServer:
    """Serve `app` with the node's connection bounds (adapters/http_server.py);
    cancel_on_leave: a handler is cancelled when its client disconnects (aiohttp's
    handler_cancellation), so admin work stops with the request."""
    s = node.settings
    bounds = ConnectionBounds(s.header_deadline_s, s.body_deadline_s, s.max_connections)
    host = s.bind_address
    try:
        server = await serve_bounded(app, host, port, bounds, what, cancel_on_leave)
    except OSError as e:
        raise ConfigError(f"cannot listen on {host}:{port} ({what}): {e.strerror or e}") from None
    node.http_guards.append(server.guard)
    return server


def _log_loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """One line for an error in a task nobody awaits (e.g. aiortc's connect task on a peer
    connection a strange offer left half set up): the session ends at its connect deadline."""
    error = context.get("exception")
    where = context.get("message", "unhandled error in a background task")
    if error is None:
        log.warning("%s", where)
    else:
        log.warning("%s: %r", where, error)


def _local(host: str) -> str:
    """Where this node reaches its own signalling server."""
    return "127.0.0.1" if host in ("0.0.0.0", "") else "[::1]" if host == "::" else host


async def _until_stopped_or_drained(node: Node, stop: asyncio.Event) -> None:
    """Until `stop`, or a drain that ends (no session left, or its deadline); a drain
    cancelled before its deadline (undrain) goes back to serving."""
    stopped = asyncio.create_task(stop.wait())
    try:
        while not stop.is_set():
            drain = asyncio.create_task(node.drain_requested.wait())
            await asyncio.wait((stopped, drain), return_when=asyncio.FIRST_COMPLETED)
            drain.cancel()
            if stop.is_set():
                return
            waited = asyncio.create_task(node.drained())
            await asyncio.wait((stopped, waited), return_when=asyncio.FIRST_COMPLETED)
            waited.cancel()
            if not waited.done() or waited.cancelled() or waited.result() >= 0:
                return
    finally:
        stopped.cancel()


async def serve(settings: NodeSettings, stop: asyncio.Event | None = None) -> None:
    """Run the node until `stop` is set or the process gets SIGTERM/SIGINT."""
    from bcastctl.adapters import ice
    from bcastctl.node.signalling import create_signalling_app

    if ice.is_loopback(settings.advertise_address):
        ice.offer_only(settings.advertise_address)
    if settings.rtc_port_min:
        ice.bind_ports(settings.rtc_port_min, settings.rtc_port_max)
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_log_loop_error)
    one_line_protocol_errors()
    node = Node(settings)
    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, stop.set)
        loop.add_signal_handler(signal.SIGTERM, node.drain, True)
    if not settings.whip_token:
        log.warning("BCAST_WHIP_TOKEN is not set: WHIP publishing is refused (403)")
    host = settings.bind_address
    admin = await _site(node, create_admin_app(node), settings.admin_port, "admin", True)
    try:
        signalling = await _site(
            node, create_signalling_app(node), settings.signalling_port, "signalling"
        )
    except ConfigError:
        await admin.close()
        raise
    signalling_port, admin_port = signalling.port, admin.port
    node.calls.signalling_url = f"http://{_local(host)}:{signalling_port}"
    try:
        await node.start()
        # one machine-readable line: the lab and tests learn the ports (0 = OS-picked) here
        print(
            f"bcastctl node {settings.name} listening signalling=http://{host}:{signalling_port} "
            f"admin=http://{host}:{admin_port}",
            file=sys.stderr,
            flush=True,
        )
        await _until_stopped_or_drained(node, stop)
        log.info("stopping")
    finally:
        await node.stop()
        await signalling.close()
        await admin.close()
