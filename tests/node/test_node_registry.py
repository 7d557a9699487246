"""Membership and registry logic: signatures, freshness, expiry, deterministic conflicts."""

from __future__ import annotations

from bcastctl.node.membership import BAD_SIGNATURE, Membership, VerifyError, sign, verify
from bcastctl.node.registry import Registry
from bcastctl.protocol import HeartbeatBody, StreamClaim

WALL = 1_800_000_000.0  # the receivers' wall clock in these tests


def beat(
    name: str,
    streams: dict[str, StreamClaim] | None = None,
    seq: int = 1,
    boot: str = "b1",
    sent: float = WALL,
) -> HeartbeatBody:
    return HeartbeatBody(
        v=2,
        name=name,
        region="r2",
        address="127.0.0.2",
        lat=0.0,
        lon=0.0,
        sessions=0,
        max_sessions=10,
        cpu=0.0,
        version="t",
        boot=boot,
        seq=seq,
        sent=sent,
        streams=streams or {},
    )


def test_signature_binds_the_body_to_the_secret() -> None:
    data = sign(beat("n2"), "cookie")
    assert verify(data, "cookie")["name"] == "n2"
    try:
        verify(data, "other-cookie")
    except VerifyError as e:
        assert (e.reason, e.name, e.region) == (BAD_SIGNATURE, "n2", "r2")
    else:
        raise AssertionError("a wrong secret verified")
    tampered = data.replace(b'\\"sessions\\":0', b'\\"sessions\\":9')
    assert tampered != data
    try:
        verify(tampered, "cookie")
    except VerifyError as e:
        assert e.reason == BAD_SIGNATURE
    else:
        raise AssertionError("a tampered heartbeat verified")


def test_members_expire_after_the_peer_timeout() -> None:
    membership = Membership("n1", peer_timeout_s=2.0)
    membership.accept(beat("n2"), now=100.0, wall=WALL)
    assert membership.expire(now=101.9, wall=WALL) == [] and "n2" in membership.members
    assert membership.expire(now=102.1, wall=WALL) == ["n2"] and membership.downs == 1


def test_only_fresh_beats_count_and_a_dead_node_stays_dead_until_it_beats_again() -> None:
    membership = Membership("n1", peer_timeout_s=2.0)
    recorded = beat("n2", seq=5)
    assert membership.accept(recorded, now=0.0, wall=WALL)
    assert membership.accept(beat("n2", seq=6), now=0.5, wall=WALL + 0.5)
    # replayed, duplicated or reordered: not newer than (b1, 6)
    for old in (recorded, beat("n2", seq=6)):
        assert not membership.accept(old, now=0.6, wall=WALL + 0.6)
    assert membership.members["n2"].body["seq"] == 6 and membership.stale_beats == 2
    # outside the freshness window, whatever its seq
    assert not membership.accept(beat("n2", seq=99, sent=WALL - 11), now=0.7, wall=WALL)
    assert not membership.accept(beat("n2", seq=99, sent=WALL + 11), now=0.7, wall=WALL)
    # n2 dies; every beat it sent before that revives nothing, even one never seen here
    assert membership.expire(now=3.0, wall=WALL + 3.0) == ["n2"]
    unseen = beat("n2", seq=7, sent=WALL + 1.0)
    assert not membership.accept(unseen, now=3.5, wall=WALL + 3.5)
    assert "n2" not in membership.members and membership.ups == 1
    # an earlier boot never comes back either
    assert not membership.accept(beat("n2", seq=100, boot="b0", sent=WALL + 4), 4.0, WALL + 4)
    # a beat sent after it was declared down (a healed partition) or a newer boot does
    assert membership.accept(beat("n2", seq=8, sent=WALL + 4.0), now=4.0, wall=WALL + 4.0)
    assert membership.expire(now=7.0, wall=WALL + 7.0) == ["n2"]
    assert membership.accept(beat("n2", seq=1, boot="b2", sent=WALL + 7.5), 7.5, WALL + 7.5)
    assert "n2" in membership.members and membership.ups == 3


def test_conflicting_claims_resolve_the_same_way_everywhere() -> None:
    early = StreamClaim(tracks={"video": "video/VP8"}, since=10.0, passthrough=True)
    late = StreamClaim(tracks={"video": "video/H264"}, since=11.0, passthrough=True)
    # node n1 claimed late; n2 (a member) claimed early: n1 must give the stream up
    n1 = Registry("n1", "r1", "127.0.0.1")
    n1.claim("cam", late["tracks"], late["since"], True)
    view_n1 = Membership("n1", 2.0)
    view_n1.accept(beat("n2", {"cam": early}), now=0.0, wall=WALL)
    assert n1.view(view_n1)["cam"] == {"node": "n2", "region": "r2"}
    assert n1.lost_claims(view_n1) == ["cam"]
    # a third node sees both claims and agrees
    n3 = Registry("n3", "r1", "127.0.0.3")
    view_n3 = Membership("n3", 2.0)
    view_n3.accept(beat("n2", {"cam": early}), now=0.0, wall=WALL)
    view_n3.accept({**beat("n1", {"cam": late}), "region": "r1"}, now=0.0, wall=WALL)
    assert n3.view(view_n3)["cam"] == {"node": "n2", "region": "r2"}
    # the holder dies: its claim leaves with it, and the surviving claim takes over
    view_n3.accept({**beat("n1", {"cam": late}, seq=2), "region": "r1"}, now=4.0, wall=WALL)
    assert view_n3.expire(now=5.0, wall=WALL) == ["n2"]
    assert n3.view(view_n3) == {"cam": {"node": "n1", "region": "r1"}}
