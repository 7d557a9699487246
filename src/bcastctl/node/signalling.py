"""The public signalling port: WHIP (RFC 9725), WHEP, pc-config, with CORS for browsers.

POST /api/whip?stream=<id>   Bearer token, SDP offer -> 201, answer, Location
POST /api/whep?stream=<id>   SDP offer -> 201, answer, Location
DELETE /api/resource/<id>    ends either session (on any node: the id names its holder)
Offers are placed on the best node and resource requests reach their holder (placement.py).
GET /api/pc-config           ICE servers with TURN REST credentials
"""

from __future__ import annotations

import hmac
import re
from typing import TYPE_CHECKING

from aiohttp import web
from aiohttp.typedefs import Handler

from bcastctl.adapters.http_server import read_body
from bcastctl.node.forwarded import forwarded_middleware
from bcastctl.node.http_errors import HttpProblem, problem_middleware, problem_response
from bcastctl.node.pages import add_pages
from bcastctl.node.placement import region_middleware
from bcastctl.node.sdp import check_offer
from bcastctl.node.turn_rest import pc_config

if TYPE_CHECKING:
    from bcastctl.node.service import Node

NODE_KEY: web.AppKey[Node] = web.AppKey("node")
STREAM_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")  # fullmatch: "$" would accept a trailing \n
CORS_HEADERS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Expose-Headers": "Location, Link, ETag",
}
PREFLIGHT_HEADERS = {
    **CORS_HEADERS,
    "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, If-Match",
    "Access-Control-Max-Age": "600",
}


@web.middleware
async def cors(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.method == "OPTIONS":
        missing = request.match_info.http_exception
        if missing is not None and missing.status == 404:  # 405 = the path exists
            return problem_response(404, f"no such resource: {request.path[:80]}", CORS_HEADERS)
        return web.Response(status=204, headers=PREFLIGHT_HEADERS)
    response = await handler(request)
    response.headers.update(CORS_HEADERS)
    return response


def _stream_id(request: web.Request) -> str:
    stream = request.query.get("stream", "")
    if not stream:
        raise HttpProblem(400, "stream: required, e.g. ?stream=main")
    if not STREAM_ID.fullmatch(stream):
        raise HttpProblem(400, f"stream={stream[:80]!r}: use 1-64 letters, digits, '-' or '_'")
    return stream


def _check_token(request: web.Request, expected: str) -> None:
    if not expected:
        raise HttpProblem(403, "publishing is disabled on this node (no WHIP token configured)")
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HttpProblem(401, "missing Bearer token")
    if not header.isascii():  # bytes that are not UTF-8 arrive as surrogates
        raise HttpProblem(401, "malformed Bearer token: not ASCII text")
    if not hmac.compare_digest(token.strip().encode(), expected.encode()):
        raise HttpProblem(401, "wrong Bearer token")


async def _offer(request: web.Request) -> str:
    # client_max_size bounds its size (413 beyond), the body deadline its time (408)
    body = await read_body(request, request.app[NODE_KEY].settings.body_deadline_s)
    return check_offer(body, request.content_type if request.body_exists else "")


def _created(session_id: str, answer: str) -> web.Response:
    location = f"/api/resource/{session_id}"
    return web.Response(
        status=201,
        text=answer,
        content_type="application/sdp",
        headers={"Location": location, "ETag": f'"{session_id}"'},
    )


async def whip(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    _check_token(request, node.settings.whip_token)
    stream = _stream_id(request)
    offer = await _offer(request)
    session_id, answer = await node.hub.publish(stream, offer, request.remote or "")
    return _created(session_id, answer)


async def whep(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    stream = _stream_id(request)
    offer = await _offer(request)
    session_id, answer = await node.hub.view(stream, offer, request.remote or "")
    return _created(session_id, answer)


async def delete_resource(request: web.Request) -> web.Response:
    node = request.app[NODE_KEY]
    session_id = request.match_info["session_id"]
    session = node.hub.sessions.get(session_id)
    if session is None:
        raise HttpProblem(404, "unknown resource")
    if session.role == "publisher":
        _check_token(request, node.settings.whip_token)
    await node.hub.end(session_id)
    return web.Response(status=200)


async def patch_resource(request: web.Request) -> web.Response:
    if request.match_info["session_id"] not in request.app[NODE_KEY].hub.sessions:
        raise HttpProblem(404, "unknown resource")
    raise HttpProblem(405, "trickle ICE is not supported: send a complete offer")


async def get_pc_config(request: web.Request) -> web.Response:
    return web.json_response(
        pc_config(request.app[NODE_KEY].settings), headers={"Cache-Control": "no-store"}
    )


def create_signalling_app(node: Node) -> web.Application:
    app = web.Application(
        middlewares=[
            cors,
            problem_middleware(node.count_rejected_request),
            forwarded_middleware(node.settings.trusted_proxies, node.settings.proxy_appends),
            region_middleware(node),
        ],
        client_max_size=node.settings.max_body_bytes,
    )
    app[NODE_KEY] = node
    app.router.add_post("/api/whip", whip)
    app.router.add_post("/api/whep", whep)
    app.router.add_delete("/api/resource/{session_id}", delete_resource)
    app.router.add_patch("/api/resource/{session_id}", patch_resource)
    app.router.add_get("/api/pc-config", get_pc_config)
    add_pages(app, node)  # the player and publisher pages (pages.py)
    return app
