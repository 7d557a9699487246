"""Placement's order of choices, from what heartbeats say (fast: no process, no network)."""

from __future__ import annotations

from bcastctl.node.placement import Candidate, Choice, choices, distance_km


def node(
    name: str,
    region: str = "us",
    sessions: int = 0,
    *,
    max_sessions: int = 3,
    cpu: float = 0.1,
    draining: bool = False,
    where: tuple[float, float] = (40.0, -83.0),
    url: str = "",
    streams: frozenset[str] = frozenset(),
) -> Candidate:
    return Candidate(name, region, sessions, max_sessions, cpu, draining, *where, url, streams)


def kinds(found: list[Choice]) -> list[tuple[str, str]]:
    return [(c.kind, c.url if c.kind == "redirect" else c.node) for c in found]


def test_this_node_first_while_it_has_room_then_the_least_loaded_neighbour() -> None:
    me = node("a", sessions=1)
    others = [node("b", sessions=2), node("c", sessions=1, cpu=0.9), node("d", sessions=1)]
    assert kinds(choices(me, others, "s", over_wan=False))[:4] == [
        ("local", "a"),
        ("neighbour", "d"),  # same share as c, less CPU
        ("neighbour", "c"),
        ("neighbour", "b"),
    ]


def test_a_full_or_draining_node_is_never_chosen() -> None:
    me = node("a", sessions=3)
    others = [node("b", draining=True), node("c", sessions=3), node("d", sessions=2)]
    assert kinds(choices(me, others, "s", over_wan=False))[:-1] == [("neighbour", "d")]
    assert kinds(choices(node("a", draining=True), [], "s", over_wan=False))[0][0] == "refuse"


def test_a_viewer_of_a_stream_from_another_region_goes_where_it_is_relayed_already() -> None:
    me = node("a")
    relaying = node("b", sessions=2, streams=frozenset({"s"}))
    first = choices(me, [relaying], "s", over_wan=True)[0]
    assert (first.kind, first.node) == ("neighbour", "b")
    # a stream of this region: no WAN copy to save, this node serves it
    assert choices(me, [relaying], "s", over_wan=False)[0].kind == "local"


def test_a_full_region_redirects_to_the_nearest_region_with_room_and_a_public_url() -> None:
    me = node("a", sessions=3)
    paris = (48.86, 2.35)
    singapore = (1.35, 103.82)
    others = [
        node("eu-0", "eu", where=paris, url="https://eu.example.com"),
        node("as-0", "as", where=singapore, url="https://as.example.com"),
    ]
    assert kinds(choices(me, others, "s", over_wan=False))[0] == (
        "redirect",
        "https://eu.example.com",
    )
    others[0] = node("eu-0", "eu", sessions=3, where=paris, url="https://eu.example.com")
    assert kinds(choices(me, others, "s", over_wan=False))[0] == (
        "redirect",
        "https://as.example.com",
    )
    assert 6000 < distance_km(me, others[0]) < 7000  # Columbus-Paris, about 6,400 km


def test_the_refusal_says_whether_the_fleet_is_full_or_a_region_has_no_public_url() -> None:
    me = node("a", sessions=3)
    full = choices(me, [node("eu-0", "eu", sessions=3, url="https://eu")], "s", over_wan=False)
    assert kinds(full) == [("refuse", "")]
    assert "the fleet is full: all 2 nodes" in full[0].reason
    hidden = choices(me, [node("eu-0", "eu")], "s", over_wan=False)
    assert hidden[0].kind == "refuse" and "no public signalling URL" in hidden[0].reason
