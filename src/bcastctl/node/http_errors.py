"""One shape for every 4xx the node answers: a status and a one-line reason.

Clients (browsers, curl, the checks) get `{"error": "<reason>"}` as JSON; the node
logs one line and keeps serving. A client that leaves mid-request is one log line,
not a traceback; a bug in the node is a 500 in the same shape (logged with its
traceback, the only case that is).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from bcastctl.adapters.http_server import BodyTimeout

log = logging.getLogger("bcastctl.node.http")


class HttpProblem(Exception):
    """Raised by handlers; turned into a response by the middleware."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def problem_response(
    status: int, reason: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    response = web.json_response({"error": reason}, status=status, headers=headers)
    if status == 408:  # the rest of a stalled body is not waited for
        response.force_close()
    return response


def problem_middleware(on_problem: Callable[[], None]) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except HttpProblem as e:
            on_problem()
            log.info("%s %s -> %d: %s", request.method, request.path, e.status, e.reason)
            return problem_response(e.status, e.reason)
        except BodyTimeout as e:
            on_problem()
            log.info("%s %s -> 408: %s", request.method, request.path, e)
            return problem_response(408, str(e))
        except web.HTTPRequestEntityTooLarge:
            on_problem()
            return problem_response(413, "request body too large")
        except web.HTTPException as e:
            if e.status < 400:
                raise
            on_problem()
            return problem_response(e.status, e.reason)
        except (ConnectionError, asyncio.IncompleteReadError) as e:
            log.info("%s %s: the client left (%s)", request.method, request.path, _short(e))
            return problem_response(400, "the client left before the request was read")
        except Exception:
            log.exception("%s %s -> 500", request.method, request.path)
            return problem_response(500, "internal error in the node (logged)")

    return middleware


class _OneLineProtocolErrors(logging.Filter):
    """aiohttp answers a request it cannot parse (bad URL characters, an over-long line) with
    a 400 itself, and logs the parser's traceback: that is client input, so one line."""

    def filter(self, record: logging.LogRecord) -> bool:
        from aiohttp.http_exceptions import HttpProcessingError

        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError | ConnectionError):
            record.msg = f"{record.getMessage()}: {type(error).__name__}: {_short(error)}"
            record.args = ()
            record.exc_info = None
            record.levelno, record.levelname = logging.INFO, "INFO"
        return True


_PROTOCOL_FILTER = _OneLineProtocolErrors()


def one_line_protocol_errors() -> None:
    """Install the filter on aiohttp's server logger (once per process)."""
    logging.getLogger("aiohttp.server").addFilter(_PROTOCOL_FILTER)


def _short(error: BaseException) -> str:
    return " ".join(str(error).split())[:120] or type(error).__name__
