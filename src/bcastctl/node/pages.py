"""The node's web pages, served on its signalling port: a self-recovering player and a publisher.

GET /watch/<stream>, GET /?stream=<id>   the viewer page (watch.html)
GET /publish                            the publisher page: camera/microphone -> WHIP, with the
                                        Bearer token typed into a password field (kept in
                                        memory only, never put in a URL or stored)
GET /static/<file>                      their scripts and style: package data, no build step,
                                        nothing fetched from another site
GET /api/regions                        protocol.RegionsView: this node and every live node's
                                        signalling origin by region, for the page's RTT election
GET /api/streams/<id>                   protocol.StreamStatus: is the stream published now

The page reaches other nodes at their advertised address and this request's port (a
fleet runs every node on the same signalling port). The signalling app's CORS headers
cover these routes, so a page served by one node can time and POST to another.
"""

from __future__ import annotations

import ipaddress
from importlib import resources
from typing import TYPE_CHECKING

from aiohttp import web

from bcastctl.node.http_errors import HttpProblem
from bcastctl.protocol import (
    REGIONS_PATH,
    STREAMS_PATH,
    PublicNode,
    PublicRegion,
    RegionsView,
    StreamStatus,
)

if TYPE_CHECKING:
    from bcastctl.node.service import Node

PAGES_NODE: web.AppKey[Node] = web.AppKey("pages_node")
CONTENT_TYPES = {
    ".html": "text/html",
    ".js": "text/javascript",
    ".css": "text/css",
}
# The pages run only their own scripts; they may connect to any node (the election and
# a reconnect go to other origins), and nothing may frame them.
PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "media-src 'self' blob:; connect-src 'self' http: https:; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-cache",
}


def _load_static() -> dict[str, bytes]:
    folder = resources.files("bcastctl.node") / "static"
    return {
        entry.name: entry.read_bytes()
        for entry in folder.iterdir()
        if entry.is_file() and any(entry.name.endswith(ext) for ext in CONTENT_TYPES)
    }


STATIC_KEY: web.AppKey[dict[str, bytes]] = web.AppKey("pages_static")


def _file(request: web.Request, name: str) -> web.Response:
    body = request.app[STATIC_KEY].get(name)
    if body is None:
        raise HttpProblem(404, f"no such file: {name[:80]!r}")
    content_type = CONTENT_TYPES[name[name.rfind(".") :]]
    return web.Response(body=body, content_type=content_type, headers=PAGE_HEADERS)


def _checked_stream(stream: str) -> None:
    from bcastctl.node.signalling import STREAM_ID

    if not STREAM_ID.fullmatch(stream):
        raise HttpProblem(400, f"stream={stream[:80]!r}: use 1-64 letters, digits, '-' or '_'")


async def watch(request: web.Request) -> web.Response:
    _checked_stream(request.match_info["stream"])
    return _file(request, "watch.html")


async def index(request: web.Request) -> web.Response:
    stream = request.query.get("stream")
    if stream is not None and stream != "":
        _checked_stream(stream)
    return _file(request, "watch.html")


async def publish(request: web.Request) -> web.Response:
    return _file(request, "publish.html")


async def static(request: web.Request) -> web.Response:
    return _file(request, request.match_info["name"])


def _origin(scheme: str, address: str, port: int | None) -> str:
    host = f"[{address}]" if ipaddress.ip_address(address).version == 6 else address
    return f"{scheme}://{host}:{port}" if port else f"{scheme}://{host}"


def regions_view(node: Node, scheme: str, port: int | None) -> RegionsView:
    cluster = node.cluster.view()
    me = cluster["node"]
    everyone = [(me["name"], me["region"], me["address"])]
    everyone += [(m["name"], m["region"], m["address"]) for m in cluster["members"]]
    by_region: dict[str, list[PublicNode]] = {}
    for name, region, address in sorted(everyone, key=lambda n: (n[1], n[0])):
        url = _origin(scheme, address, port)
        by_region.setdefault(region, []).append(PublicNode(name=name, url=url))
    return RegionsView(
        node=me["name"],
        region=me["region"],
        regions=[PublicRegion(name=r, nodes=nodes) for r, nodes in by_region.items()],
    )


async def regions(request: web.Request) -> web.Response:
    node = request.app[PAGES_NODE]
    if not node.cluster.connected:  # its membership is stale: ask another node
        raise HttpProblem(503, "not connected to NATS: cannot list the live nodes")
    view = regions_view(node, request.scheme, request.url.port)
    return web.json_response(view, headers={"Cache-Control": "no-store"})


async def stream_status(request: web.Request) -> web.Response:
    stream = request.match_info["stream"]
    _checked_stream(stream)
    cluster = request.app[PAGES_NODE].cluster
    if not cluster.connected:  # its registry is stale: a player must go elsewhere
        raise HttpProblem(503, "not connected to NATS: cannot tell who holds the stream")
    holder = cluster.holders().get(stream)
    status = StreamStatus(
        stream=stream,
        held=holder is not None,
        node=holder.node if holder is not None else None,
        region=holder.region if holder is not None else None,
    )
    return web.json_response(status, headers={"Cache-Control": "no-store"})


def add_pages(app: web.Application, node: Node) -> None:
    """Register the pages and /api/regions on the signalling app."""
    app[PAGES_NODE] = node
    app[STATIC_KEY] = _load_static()
    app.router.add_get("/", index)
    app.router.add_get("/watch/{stream}", watch)
    app.router.add_get("/publish", publish)
    app.router.add_get("/static/{name}", static)
    app.router.add_get(REGIONS_PATH, regions)
    app.router.add_get(STREAMS_PATH + "/{stream}", stream_status)
