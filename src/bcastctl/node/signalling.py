"""The public signalling port: WHIP, WHEP, pc-config, with CORS for browsers."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from bcastctl.node.http_errors import problem_middleware
from bcastctl.node.turn_rest import pc_config

if TYPE_CHECKING:
    from bcastctl.node.service import Node

NODE_KEY: web.AppKey[Node] = web.AppKey("node")


async def get_pc_config(request: web.Request) -> web.Response:
    return web.json_response(
        pc_config(request.app[NODE_KEY].settings), headers={"Cache-Control": "no-store"}
    )


def create_signalling_app(node: Node) -> web.Application:
    app = web.Application(
        middlewares=[problem_middleware(node.count_rejected_request)],
        client_max_size=node.settings.max_body_bytes,
    )
    app[NODE_KEY] = node
    app.router.add_get("/api/pc-config", get_pc_config)
    return app
