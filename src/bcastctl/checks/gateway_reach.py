"""gateway-reach: every region reaches the NATS gateway of each peer outside MCS at the
address the peer's mode gives (its node ports or load balancer), from inside the region.

A region not on MCS has no clusterset names, so mcs-dns has nothing to ask for it; this
check asks a node of the dialling region to open a TCP connection to each configured
address (`/api/diag/dial`, bounded on the node), as its NATS gateway would. One result
per ordered pair A->B that is not MCS on both ends, naming B's mode; a region whose
peers are all on MCS gets one skip saying so (mcs-dns covers it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from bcastctl.checks.base import Check, CheckContext, CheckResult, Finding, fail, ok, pair, skip
from bcastctl.errors import BcastError, UnreachableError
from bcastctl.exposure import mode_label
from bcastctl.targets.base import GatewayDial, NodeEndpoints, RegionEndpoints, get_json

NAME: Final = "gateway-reach"
DIAL_TIMEOUT_MS: Final = 3000


class GatewayReached(Finding):
    """Scope "A->B": B's gateway addresses dialled from inside A."""

    check = NAME
    mode: str  # B's gateway mode
    addresses: int  # configured addresses of B (node addresses, or one load balancer)
    reached: int  # of those, how many accepted a connection
    connect_ms: float | None  # the fastest connect


async def _dial_from(ctx: CheckContext, nodes: Sequence[NodeEndpoints], addr: str) -> Any:
    """Ask the first node that answers; UnreachableError naming every node tried."""
    errors: list[str] = []
    params = {"addr": addr, "timeout_ms": str(DIAL_TIMEOUT_MS)}
    for node in nodes:
        if node.admin is None:
            continue
        try:
            return await get_json(ctx.target, node.admin, "/api/diag/dial", params, ctx.timeout_s)
        except BcastError as e:
            errors.append(e.message)
    raise UnreachableError(
        "no node of the region answers /api/diag/dial"
        + (f" ({'; '.join(errors)})" if errors else ""),
        hint="gateway reachability is checked from inside the region through a running node",
    )


def _verdict(check: str, scope: str, dials: list[GatewayDial], answers: list[Any]) -> CheckResult:
    peer, mode = dials[0].peer, dials[0].mode
    reached = [a for a in answers if a.get("connected")]
    failed = [f"{a.get('addr')}: {a.get('error')}" for a in answers if not a.get("connected")]
    fastest = min((float(a["ms"]) for a in reached if a.get("ms") is not None), default=None)
    finding = GatewayReached(
        mode=mode, addresses=len(dials), reached=len(reached), connect_ms=fastest
    ).as_values()
    if not reached:
        return fail(
            check,
            scope,
            f"{peer}'s gateway ({mode}) unreachable: {'; '.join(failed)}",
            hint=f"check {peer}'s gateway Service ({mode}), firewall rules and peering "
            "between the networks",
            values=finding,
        )
    detail = (
        f" ({len(failed)} of {len(dials)} addresses not: {'; '.join(failed)})" if failed else ""
    )
    return ok(
        check,
        scope,
        f"{peer}'s gateway ({mode}) reachable, connect {fastest:.1f} ms{detail}",
        values=finding,
    )


class GatewayReach(Check):
    name = NAME
    title = "NATS gateways of regions outside MCS reachable at their configured addresses"
    layer = "dns"  # the same layer as mcs-dns: how one region finds another's gateway

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        own_mode = mode_label(ctx.target.fleet.region(region.name))
        if not region.gateway_dials:
            return [
                skip(
                    self.name,
                    region.name,
                    f"{region.name} ({own_mode}) reaches every peer over MCS (see mcs-dns)",
                )
            ]
        answers = await ctx.gather(
            [_dial_from(ctx, region.nodes, d.addr) for d in region.gateway_dials]
        )
        by_peer: dict[str, list[tuple[GatewayDial, Any]]] = {}
        for dial, answer in zip(region.gateway_dials, answers, strict=True):
            if isinstance(answer, BcastError):
                return [fail(self.name, region.name, answer.message, hint=answer.hint)]
            if isinstance(answer, BaseException):
                raise answer
            by_peer.setdefault(dial.peer, []).append((dial, answer))
        return [
            _verdict(self.name, pair(region.name, peer), [d for d, _ in got], [a for _, a in got])
            for peer, got in by_peer.items()
        ]
