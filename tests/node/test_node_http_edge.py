"""The node's HTTP edge and frame intake, in process (no node, no NATS: the fast lane):
a 500 (a bug) still carries CORS headers and one reason; a relayed frame with clock rate
0 is refused instead of dividing by zero (issue 12, point 6)."""

from __future__ import annotations

import struct

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from bcastctl.node.frames import EncodedFrame
from bcastctl.node.http_errors import problem_middleware
from bcastctl.node.signalling import cors


async def test_a_500_still_carries_cors_headers_and_one_reason() -> None:
    """A bug in a handler (injected here: the only way to have one) is a JSON 500 that a
    browser can read (CORS), with the traceback in the node's log only."""

    async def broken(request: web.Request) -> web.Response:
        raise RuntimeError("a bug")

    app = web.Application(middlewares=[cors, problem_middleware(lambda: None)])
    app.router.add_post("/api/whip", broken)
    async with TestClient(TestServer(app)) as client:
        response = await client.post("/api/whip", data=b"v=0")
        assert response.status == 500
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert await response.json() == {"error": "internal error in the node (logged)"}


def test_a_relayed_frame_with_clock_rate_0_is_refused_not_divided_by() -> None:
    """A frame off NATS names its clock rate; 0 would raise ZeroDivisionError when the
    viewer's packet is built. unpack refuses it (the relay drops it with a warning)."""
    good = EncodedFrame.create("video/VP8", 90000, b"\x10\x02\x00", 1234)
    assert EncodedFrame.unpack(good.pack()).packet().pts == 1234
    payload = bytearray(good.pack())
    struct.pack_into("!I", payload, 2, 0)  # the clock rate field
    with pytest.raises(ValueError, match="clock rate 0 out of range"):
        EncodedFrame.unpack(bytes(payload))
