"""One shape for every 4xx the node answers: a status and a one-line reason.

Clients (browsers, curl, the checks) get `{"error": "<reason>"}` as JSON; the node
logs one line and keeps serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

log = logging.getLogger("bcastctl.node.http")


class HttpProblem(Exception):
    """Raised by handlers; turned into a response by the middleware."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def problem_response(status: int, reason: str) -> web.Response:
    return web.json_response({"error": reason}, status=status)


def problem_middleware(on_problem: Callable[[], None]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except HttpProblem as e:
            on_problem()
            log.info("%s %s -> %d: %s", request.method, request.path, e.status, e.reason)
            return problem_response(e.status, e.reason)
        except web.HTTPRequestEntityTooLarge:
            on_problem()
            return problem_response(413, "request body too large")
        except web.HTTPException as e:
            if e.status < 400:
                raise
            on_problem()
            return problem_response(e.status, e.reason)

    return middleware
