"""nats-gateways: every region's NATS servers have a live gateway link to every other region.

From each NATS server's `/varz` (the configured gateways) and `/gatewayz` (the
connected ones): for the pair A->B, every server of A has a connected outbound
gateway to B, and B's servers dial into A, with the RTT NATS measures on the link.
A dead link simply vanishes from `/gatewayz` (there is no "down" state), so
configured-but-absent is what a cut link looks like. Results are one per
ordered pair; an unreachable monitor endpoint fails its region.
"""

from __future__ import annotations

from typing import Final

from bcastctl.checks.base import Check, CheckContext, CheckResult, Finding, fail, ok, pair
from bcastctl.errors import BcastError
from bcastctl.readers.nats import (
    NOT_MEASURED,
    PairLinks,
    ServerLinks,
    judge_pair,
    read_server_links,
)
from bcastctl.targets.base import EndpointSource, RegionEndpoints

NAME: Final = "nats-gateways"


class GatewayPair(Finding):
    """Scope "A->B": the link from A's servers to region B."""

    check = NAME
    servers: int  # A's NATS servers that answered
    outbound_connected: int  # of them, those with a connected outbound gateway to B
    inbound_servers: int  # of them, those B dials into
    rtt_ms: float | None  # the slowest server's outbound RTT; None: not measured yet


class MonitorsUnreachable(Finding):
    """Scope a region: some (or all) of its NATS monitors do not answer."""

    check = NAME
    monitor_unreachable: bool  # True when none answered: the region's NATS is gone


def pair_result(check: str, link: PairLinks) -> CheckResult:
    """The result for region->peer from the shared gateway verdict (`readers.nats.judge_pair`)."""
    region, peer, servers = link.region, link.peer, link.servers
    scope = pair(region, peer)
    values = GatewayPair(
        servers=servers,
        outbound_connected=link.outbound_connected,
        inbound_servers=link.inbound_servers,
        rtt_ms=link.rtt_ms,
    ).as_values()
    if link.not_configured:
        return fail(
            check,
            scope,
            f"gateway {peer} not configured on {', '.join(link.not_configured)}",
            hint=f"add {peer} to the gateway block of {region}'s NATS config (re-render)",
            values=values,
        )
    if link.no_outbound or not link.inbound_servers:
        missing = []
        if link.no_outbound:
            missing.append(f"outbound on {len(link.no_outbound)}/{servers} server(s)")
        missing += [] if link.inbound_servers else [f"inbound from {peer}"]
        return fail(
            check,
            scope,
            f"configured but not connected: {' and '.join(missing)}",
            hint=f"the gateway link {region} <-> {peer} is down: check the path between them "
            f"and {peer}'s gateway port",
            values=values,
        )
    shown = f", rtt {link.rtt_ms:g} ms" if link.rtt_ms is not None else f", rtt {NOT_MEASURED}"
    return ok(
        check,
        scope,
        f"outbound on {servers} server(s) and inbound connected{shown}",
        values=values,
    )


def monitors_result(check: str, region: str, errors: list[str], monitors: int) -> CheckResult:
    """Some of the region's NATS monitors do not answer; all of them: its NATS is gone."""
    return fail(
        check,
        region,
        f"{len(errors)}/{monitors} NATS monitor(s) unreachable: " + "; ".join(errors),
        hint="is NATS running in this region? its monitor port must answer /varz",
        values=MonitorsUnreachable(monitor_unreachable=len(errors) == monitors).as_values(),
    )


class NatsGateways(Check):
    name = NAME
    title = "NATS gateway links, configured vs connected, both directions"
    layer = "nats"

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        if not region.nats_monitors:
            return [fail(self.name, region.name, "no NATS monitor endpoint known for the region")]
        answers = await ctx.gather(
            [
                read_server_links(EndpointSource(ctx.target, monitor, ctx.timeout_s))
                for monitor in region.nats_monitors
            ]
        )
        servers = [a for a in answers if isinstance(a, ServerLinks)]
        errors = [a for a in answers if isinstance(a, BaseException)]
        for error in errors:
            if not isinstance(error, BcastError | TimeoutError):
                raise error
        results: list[CheckResult] = []
        if errors:
            reasons = [str(error) for error in errors]
            results.append(monitors_result(self.name, region.name, reasons, len(answers)))
        if not servers:
            return results
        peers = [name for name in ctx.target.region_names if name != region.name]
        return results + [
            pair_result(self.name, judge_pair(region.name, peer, servers)) for peer in peers
        ]
