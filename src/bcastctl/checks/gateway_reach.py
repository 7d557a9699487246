"""gateway-reach: every region reaches the NATS gateway of each peer at the address its
gateway dials (exposure.gateway_hosts), from inside the region.

A region not on MCS has no clusterset names, so mcs-dns has nothing to ask for it; this
check asks a node of the dialling region to open a TCP connection to each configured
address (`/api/diag/dial`, bounded on the node), as its NATS gateway would. One result
per ordered pair A->B the check dials (exposure.reach_dialled_peers), naming B's mode.
Without gateway TLS that is every pair not on MCS at both ends: between MCS regions
mcs-dns checks the names and nats-gateways the links, and a bare connect adds nothing, so
a region whose peers are all on MCS gets one skip saying so. With gateway TLS
(fleet.nats.gateway_tls) every pair is dialled, MCS ones at the clusterset name, and the
node also fetches the certificate B's gateway presents; the check judges it against A's
gateway CA (the target reads it): not issued by that CA, not naming the address dialled
(NATS verifies the URL's host), or expired fail with a reason naming TLS; expiring within
14 days warns. A failed judgement is kept in the finding (`certificate_problem`), so
rootcause names the certificate, not the gateway link it breaks.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

from bcastctl.checks.base import (
    Check,
    CheckContext,
    CheckResult,
    Finding,
    ask_any_node,
    fail,
    ok,
    pair,
    skip,
    warn,
)
from bcastctl.errors import BcastError
from bcastctl.exposure import mode_label
from bcastctl.readers.certificates import Judgement, issued_by, judge_validity, load_pem, names_host
from bcastctl.targets.base import GatewayDial, NodeEndpoints, RegionEndpoints
from bcastctl.targets.capabilities import gateway_ca_source

NAME: Final = "gateway-reach"
DIAL_TIMEOUT_MS: Final = 3000


class GatewayReached(Finding):
    """Scope "A->B": B's gateway addresses dialled from inside A."""

    check = NAME
    mode: str  # B's gateway mode
    addresses: int  # configured addresses of B (node addresses, or one load balancer)
    reached: int  # of those, how many accepted a connection
    connect_ms: float | None  # the fastest connect
    certificate_problem: str | None = None  # B's certificate fails A's TLS (None: fine, no TLS)


async def _dial_from(
    ctx: CheckContext, nodes: Sequence[NodeEndpoints], addr: str, tls: bool
) -> Any:
    params = {"addr": addr, "timeout_ms": str(DIAL_TIMEOUT_MS)}
    if tls:
        params["tls"] = "nats"
    return await ask_any_node(ctx, nodes, "/api/diag/dial", params, "gateway reachability")


def tls_judgement(dial: GatewayDial, answer: Any, ca_pem: str | None) -> Judgement:
    """The certificate a gateway presented, judged as its peers' crypto/tls would: issued
    by the fleet's gateway CA, naming the address dialled, valid (and for how long)."""
    if answer.get("tls_error"):
        return Judgement(f"TLS: {answer['tls_error']}", None)
    cert = load_pem(answer.get("certificate") or "")
    if cert is None:
        return Judgement("TLS: the gateway presented no certificate", None)
    ca = load_pem(ca_pem) if ca_pem else None
    if ca is not None and not issued_by(cert, ca):
        return Judgement(
            f"TLS: {dial.addr} presents a certificate not issued by the fleet's gateway CA "
            f"(issuer {cert.issuer.rfc4514_string()}): its gateway handshakes fail",
            None,
        )
    if not names_host(cert, dial.host):
        return Judgement(f"TLS: {dial.addr}'s certificate does not name {dial.host}", None)
    judged = judge_validity(cert, f"TLS: {dial.addr}'s certificate", datetime.now(tz=UTC))
    return judged


def pair_verdict(
    check: str, scope: str, dials: list[GatewayDial], answers: list[Any], tls: list[Judgement]
) -> CheckResult:
    """One pair's result from the dial answers for B's addresses and their TLS judgements."""
    peer, mode = dials[0].peer, dials[0].mode
    reached = [a for a in answers if a.get("connected")]
    failed = [f"{a.get('addr')}: {a.get('error')}" for a in answers if not a.get("connected")]
    fastest = min((float(a["ms"]) for a in reached if a.get("ms") is not None), default=None)
    problems = [j.problem for j in tls if j.problem]
    finding = GatewayReached(
        mode=mode,
        addresses=len(dials),
        reached=len(reached),
        connect_ms=fastest,
        certificate_problem="; ".join(problems) if problems else None,
    ).as_values()
    if not reached or problems:
        return fail(
            check,
            scope,
            f"{peer}'s gateway ({mode}) "
            + ("; ".join(problems) if reached else f"unreachable: {'; '.join(failed)}"),
            hint=f"issue {peer}'s gateway certificate from the fleet's gateway CA for the "
            "addresses the others dial (nats.gateway_tls)"
            if reached
            else f"check {peer}'s gateway Service ({mode}), firewall rules and peering "
            "between the networks",
            values=finding,
        )
    detail = ""
    if failed:
        detail = f" ({len(failed)} of {len(dials)} addresses not: {'; '.join(failed)})"
    message = f"{peer}'s gateway ({mode}) reachable, connect {fastest:.1f} ms{detail}"
    warnings = sorted({j.warning for j in tls if j.warning})
    if warnings:
        return warn(
            check,
            scope,
            f"{message}; {'; '.join(warnings)}",
            hint=f"renew {peer}'s gateway certificate (Secret named in nats.gateway_tls)",
            values=finding,
        )
    return ok(check, scope, message + (", TLS ok" if tls else ""), values=finding)


class GatewayReach(Check):
    name = NAME
    title = "NATS gateways reachable at the addresses their peers dial (with TLS: certificates)"
    layer = "dns"  # the same layer as mcs-dns: how one region finds another's gateway

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        own_mode = mode_label(ctx.target.fleet.region(region.name))
        if not region.gateway_dials:
            return [
                skip(
                    self.name,
                    region.name,
                    f"{region.name} ({own_mode}) reaches every peer over MCS without gateway "
                    "TLS (see mcs-dns)",
                )
            ]
        fleet = ctx.target.fleet
        tls = fleet.nats.gateway_tls is not None
        source = gateway_ca_source(ctx.target)
        ca_pem = await source.gateway_ca(region.name) if tls and source is not None else None
        answers = await ctx.gather(
            [_dial_from(ctx, region.nodes, d.addr, tls) for d in region.gateway_dials]
        )
        by_peer: dict[str, list[tuple[GatewayDial, Any]]] = {}
        for dial, answer in zip(region.gateway_dials, answers, strict=True):
            if isinstance(answer, BcastError):
                return [fail(self.name, region.name, answer.message, hint=answer.hint)]
            if isinstance(answer, BaseException):
                raise answer
            by_peer.setdefault(dial.peer, []).append((dial, answer))
        results = []
        for peer, got in by_peer.items():
            judged = [tls_judgement(d, a, ca_pem) for d, a in got if tls and a.get("connected")]
            dials, replies = [d for d, _ in got], [a for _, a in got]
            results.append(pair_verdict(self.name, pair(region.name, peer), dials, replies, judged))
        return results
