"""The one reader of a node's /api/cluster view, against a local HTTP server (no node)."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from bcastctl.errors import UnreachableError
from bcastctl.protocol import ClusterView
from bcastctl.readers.cluster import member_names, read_cluster_view, unseen
from bcastctl.readers.source import UrlSource


def view(name: str, members: list[str]) -> ClusterView:
    return {
        "node": {"name": name, "region": "r1", "address": "127.0.0.1", "lat": 0, "lon": 0,
                 "version": "1"},
        "nats_connected": True,
        "members": [
            {"name": m, "region": "r1", "address": "127.0.0.1", "sessions": 0, "max_sessions": 9,
             "cpu": 0.0, "last_seen_ms": 10.0}
            for m in members
        ],
        "rejected": [],
        "registry": {},
    }  # fmt: skip


@pytest.mark.parametrize(
    ("members", "expected", "missing"),
    [
        (["b", "c"], ["a", "b", "c"], []),
        (["b"], ["a", "b", "c"], ["c"]),
        ([], ["a", "c", "b"], ["b", "c"]),
        (["b", "x"], ["a", "b"], []),  # an extra node is membership's business, not a gap
    ],
)
def test_unseen_is_expected_minus_self_minus_members(
    members: list[str], expected: list[str], missing: list[str]
) -> None:
    assert unseen(view("a", members), expected) == missing
    assert member_names(view("a", members)) == set(members)


@pytest.mark.parametrize(
    ("answer", "status", "error"),
    [
        ([], 200, "/api/cluster: unexpected answer"),
        ({"members": "b"}, 200, "/api/cluster: unexpected answer"),
        ({"error": "nope"}, 503, "/api/cluster: HTTP 503"),
    ],
)
async def test_a_wrong_answer_is_one_unreachable_error_naming_the_url(
    answer: Any, status: int, error: str
) -> None:
    async def cluster(_: web.Request) -> web.Response:
        return web.json_response(answer, status=status)

    app = web.Application()
    app.router.add_get("/api/cluster", cluster)
    async with TestServer(app, host="127.0.0.1") as server, aiohttp.ClientSession() as http:
        url = str(server.make_url("")).rstrip("/")
        with pytest.raises(UnreachableError, match=f"^{url}{error}") as raised:
            await read_cluster_view(UrlSource(http, url))
        # a status is typed once, where the answer is read: callers never parse the text
        assert getattr(raised.value, "status", None) == (status if status != 200 else None)
