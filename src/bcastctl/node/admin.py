"""The admin port (private): health, readiness, metrics, the cluster view and diagnostics.

Shapes are protocol.ClusterView, protocol.ResolveAnswer, protocol.RttSamples and
protocol.DialAnswer.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from bcastctl.node import diag
from bcastctl.node.http_errors import HttpProblem, problem_middleware
from bcastctl.node.metrics import render
from bcastctl.node.setting import NAME_PATTERN

if TYPE_CHECKING:
    from bcastctl.node.service import Node

NODE_KEY: web.AppKey[Node] = web.AppKey("node")
RTT_LIMIT_KEY: web.AppKey[asyncio.Semaphore] = web.AppKey("rtt_limit")
DIAL_LIMIT_KEY: web.AppKey[asyncio.Semaphore] = web.AppKey("dial_limit")


def _node(request: web.Request) -> Node:
    return request.app[NODE_KEY]


async def healthz(request: web.Request) -> web.Response:
    """Alive (200) while the process serves; NATS state in the detail, not in the status:
    the node keeps dialling NATS on its own, and a restart would not bring NATS back."""
    return web.json_response({"status": "ok", **_node(request).cluster.nats_health()})


async def readyz(request: web.Request) -> web.Response:
    ready, reason = _node(request).readiness()
    return web.json_response({"ready": ready, "reason": reason}, status=200 if ready else 503)


async def drain(request: web.Request) -> web.Response:
    """POST /api/drain: stop taking sessions, keep live ones until the deadline, then exit."""
    node = _node(request)
    left = node.drain()
    return web.json_response(
        {"draining": True, "sessions": node.sessions(), "deadline_s": round(left, 1)}, status=202
    )


async def undrain(request: web.Request) -> web.Response:
    """DELETE /api/drain: stop draining before the deadline (409 when too late or not
    draining); deploy backs off a drain that would cut more sessions than it may."""
    node = _node(request)
    if not node.undrain():
        state = "not draining" if not node.draining else "the node is stopping"
        raise HttpProblem(409, f"cannot cancel the drain: {state}")
    return web.json_response({"draining": False, "sessions": node.sessions()})


async def metrics(request: web.Request) -> web.Response:
    node = _node(request)
    node.refresh_gauges()
    return web.Response(
        text=render(node.metrics),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Prometheus-Format": "0.0.4"},
    )


async def cluster(request: web.Request) -> web.Response:
    return web.json_response(_node(request).cluster.view())


def _int_query(request: web.Request, key: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(key)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise HttpProblem(400, f"{key}={raw!r}: expected an integer") from None
    if not low <= value <= high:
        raise HttpProblem(400, f"{key}={value}: must be between {low} and {high}")
    return value


async def resolve(request: web.Request) -> web.Response:
    settings = _node(request).settings
    name = request.query.get("name", "").strip()
    if not name:
        raise HttpProblem(
            400,
            "name: required, e.g. ?name=<region>-nats-gateway.<ns>." + settings.clusterset_domain,
        )
    domains = (settings.cluster_domain, settings.clusterset_domain)
    problem = diag.name_problem(name, domains)
    if problem is not None:
        raise HttpProblem(400, f"name={name[:80]!r}: {problem}")
    return web.json_response(await diag.resolve(name, settings.dns_server))


async def rtt(request: web.Request) -> web.Response:
    """RTT echo to a peer over NATS, bounded: a valid peer name, a worst case of
    diag.RTT_MAX_S, diag.RTT_MAX_RUNNING at once; the admin server cancels the handler when
    the client leaves (handler_cancellation), which stops the requests."""
    node = _node(request)
    peer = request.query.get("peer", "").strip()
    if not peer:
        raise HttpProblem(400, "peer: required (a node name from /api/cluster)")
    if not NAME_PATTERN.fullmatch(peer):
        raise HttpProblem(400, f"peer={peer[:40]!r}: not a node name (letters, digits, '-', '_')")
    count = _int_query(request, "n", 10, 1, 1000)
    interval_ms = _int_query(request, "interval_ms", 0, 0, 10_000)
    timeout_ms = _int_query(request, "timeout_ms", 1000, 1, 30_000)
    worst_s = (count * timeout_ms + (count - 1) * interval_ms) / 1000
    if worst_s > diag.RTT_MAX_S:
        raise HttpProblem(
            400,
            f"n={count} with timeout_ms={timeout_ms} and interval_ms={interval_ms} could take "
            f"{worst_s:g} s; the limit is {diag.RTT_MAX_S:g} s",
        )
    bus = node.cluster.bus
    if bus is None or not bus.connected:
        raise HttpProblem(503, "not connected to NATS")
    limiter = request.app[RTT_LIMIT_KEY]
    if limiter.locked():
        raise HttpProblem(
            429, f"{diag.RTT_MAX_RUNNING} RTT measurements are already running; retry later"
        )
    async with limiter, asyncio.timeout(diag.RTT_MAX_S + 1):
        samples = await diag.rtt(bus, node.settings.fleet, peer, count, interval_ms, timeout_ms)
    return web.json_response(samples)


async def dial(request: web.Request) -> web.Response:
    """A TCP connect from this node to `addr` (host:port), bounded: a valid address, a
    deadline of timeout_ms (at most diag.DIAL_MAX_S, once for the connect and once for
    the TLS handshake with tls=nats), diag.DIAL_MAX_RUNNING at once."""
    addr = request.query.get("addr", "").strip()
    if not addr:
        raise HttpProblem(400, "addr: required, e.g. ?addr=<gateway address>:<port>")
    if len(addr) > 300:
        raise HttpProblem(400, f"addr: {len(addr)} characters; at most 300")
    parsed = diag.parse_address(addr)
    if isinstance(parsed, str):
        raise HttpProblem(400, f"addr={addr[:80]!r}: {parsed}")
    timeout_ms = _int_query(request, "timeout_ms", 3000, 1, int(diag.DIAL_MAX_S * 1000))
    tls = request.query.get("tls", "")
    if tls not in ("", "nats"):
        raise HttpProblem(400, f"tls={tls[:20]!r}: only tls=nats (a NATS server's TLS)")
    limiter = request.app[DIAL_LIMIT_KEY]
    if limiter.locked():
        raise HttpProblem(429, f"{diag.DIAL_MAX_RUNNING} dials are already running; retry later")
    settings = _node(request).settings
    in_cluster = diag.name_problem(parsed[0], (settings.cluster_domain, settings.clusterset_domain))
    dns_server = settings.dns_server if in_cluster is None else None
    async with limiter:
        answer = await diag.dial(*parsed, timeout_ms / 1000, tls == "nats", dns_server)
        return web.json_response(answer)


def create_admin_app(node: Node) -> web.Application:
    app = web.Application(middlewares=[problem_middleware(node.count_rejected_request)])
    app[NODE_KEY] = node
    app[RTT_LIMIT_KEY] = asyncio.Semaphore(diag.RTT_MAX_RUNNING)
    app[DIAL_LIMIT_KEY] = asyncio.Semaphore(diag.DIAL_MAX_RUNNING)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_post("/api/drain", drain)
    app.router.add_delete("/api/drain", undrain)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/api/cluster", cluster)
    app.router.add_get("/api/diag/resolve", resolve)
    app.router.add_get("/api/diag/rtt", rtt)
    app.router.add_get("/api/diag/dial", dial)
    return app
