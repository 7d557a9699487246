"""turn's parsing of TURN URIs and /api/pc-config, table-driven, no TURN server.

URI forms from RFC 7065 (turn:host[:port][?transport=udp|tcp]; default port 3478).
"""

from __future__ import annotations

from typing import Any

import pytest

from bcastctl.checks.turn import parse_turn_url, turn_server

URLS = [
    ("turn:1.2.3.4:3478?transport=udp", ("1.2.3.4", 3478, "udp")),
    ("turn:1.2.3.4?transport=tcp", ("1.2.3.4", 3478, "tcp")),
    ("turn:turn.example.com:443?transport=TCP", ("turn.example.com", 443, "tcp")),
    ("turn:[2001:db8::1]:3478", ("2001:db8::1", 3478, "udp")),
    ("turn:1.2.3.4:3478?transport=sctp", None),
    ("turns:1.2.3.4:5349", None),
    ("stun:1.2.3.4:3478", None),
    ("turn:", None),
    ("turn:host:port", None),
    ("garbage", None),
]


@pytest.mark.parametrize(("url", "parsed"), URLS)
def test_parse_turn_url(url: str, parsed: tuple[str, int, str] | None) -> None:
    assert parse_turn_url(url) == parsed


CONFIGS: list[tuple[str, dict[str, Any], Any]] = [
    ("first usable server", {"iceServers": [
        {"urls": ["stun:1.2.3.4"]},
        {"urls": ["turn:1.2.3.4:3478?transport=udp"], "username": "1:u", "credential": "c"},
    ]}, (("1.2.3.4", 3478, "udp"), "1:u", "c")),
    ("urls as one string",
     {"iceServers": [{"urls": "turn:h:3478", "username": "u", "credential": "c"}]},
     (("h", 3478, "udp"), "u", "c")),
    ("no credentials", {"iceServers": [{"urls": ["turn:h:3478"]}]}, None),
    ("no servers", {"iceServers": []}, None),
    ("nothing at all", {}, None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "config", "found"), CONFIGS, ids=[c[0] for c in CONFIGS])
def test_turn_server(case: str, config: dict[str, Any], found: Any) -> None:
    assert turn_server(config) == found
