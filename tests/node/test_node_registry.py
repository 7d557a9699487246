"""Membership and registry logic: signatures, expiry, and deterministic conflict resolution."""

from __future__ import annotations

from bcastctl.node.membership import BAD_SIGNATURE, Membership, VerifyError, sign, verify
from bcastctl.node.registry import Registry
from bcastctl.protocol import HeartbeatBody, StreamClaim


def beat(name: str, streams: dict[str, StreamClaim] | None = None) -> HeartbeatBody:
    return HeartbeatBody(
        v=1,
        name=name,
        region="r2",
        address="127.0.0.2",
        lat=0.0,
        lon=0.0,
        sessions=0,
        max_sessions=10,
        cpu=0.0,
        version="t",
        boot="b1",
        sent=0.0,
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
    membership.accept(beat("n2"), now=100.0)
    assert membership.expire(now=101.9) == [] and "n2" in membership.members
    assert membership.expire(now=102.1) == ["n2"] and membership.downs == 1


def test_conflicting_claims_resolve_the_same_way_everywhere() -> None:
    early = StreamClaim(tracks={"video": "video/VP8"}, since=10.0, passthrough=True)
    late = StreamClaim(tracks={"video": "video/H264"}, since=11.0, passthrough=True)
    # node n1 claimed late; n2 (a member) claimed early: n1 must give the stream up
    n1 = Registry("n1", "r1", "127.0.0.1")
    n1.claim("cam", late["tracks"], late["since"], True)
    view_n1 = Membership("n1", 2.0)
    view_n1.accept(beat("n2", {"cam": early}), now=0.0)
    assert n1.view(view_n1)["cam"] == {"node": "n2", "region": "r2"}
    assert n1.lost_claims(view_n1) == ["cam"]
    # a third node sees both claims and agrees
    n3 = Registry("n3", "r1", "127.0.0.3")
    view_n3 = Membership("n3", 2.0)
    view_n3.accept(beat("n2", {"cam": early}), now=0.0)
    view_n3.accept({**beat("n1", {"cam": late}), "region": "r1"}, now=0.0)
    assert n3.view(view_n3)["cam"] == {"node": "n2", "region": "r2"}
    # the holder dies: its claim leaves with it, and the surviving claim takes over
    view_n3.accept({**beat("n1", {"cam": late}), "region": "r1"}, now=4.0)
    assert view_n3.expire(now=5.0) == ["n2"]
    assert n3.view(view_n3) == {"cam": {"node": "n1", "region": "r1"}}
