"""nats-gateways: every region's NATS servers have a live gateway link to every other region.

From each NATS server's `/varz` (the configured gateways) and `/gatewayz` (the
connected ones): for the pair A->B, every server of A has a connected outbound
gateway to B, and B's servers dial into A, with the RTT NATS measures on the link.
A dead link simply vanishes from `/gatewayz` (there is no "down" state), so
configured-but-absent is what a cut link looks like. Results are one per
ordered pair; an unreachable monitor endpoint fails its region.
"""

from __future__ import annotations

from bcastctl.checks.base import Check, CheckContext, CheckResult, Value, fail, ok, pair
from bcastctl.errors import BcastError
from bcastctl.readers.nats import PairLinks, ServerLinks, judge_pair, read_server_links
from bcastctl.targets.base import EndpointSource, RegionEndpoints


def pair_result(check: str, link: PairLinks) -> CheckResult:
    """The result for region->peer from the shared gateway verdict (`readers.nats.judge_pair`)."""
    region, peer, servers = link.region, link.peer, link.servers
    scope = pair(region, peer)
    values: dict[str, Value] = {
        "servers": servers,
        "outbound_connected": link.outbound_connected,
        "inbound_servers": link.inbound_servers,
        "rtt_ms": link.rtt_ms,
    }
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
    shown = f", rtt {link.rtt_ms:g} ms" if link.rtt_ms is not None else ""
    return ok(
        check,
        scope,
        f"outbound on {servers} server(s) and inbound connected{shown}",
        values=values,
    )


class NatsGateways(Check):
    name = "nats-gateways"
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
            every = not servers
            results.append(
                fail(
                    self.name,
                    region.name,
                    f"{len(errors)}/{len(answers)} NATS monitor(s) unreachable: "
                    + "; ".join(str(error) for error in errors),
                    hint="is NATS running in this region? its monitor port must answer /varz",
                    monitor_unreachable=every,  # the whole region's NATS, for the root cause
                )
            )
        if not servers:
            return results
        peers = [name for name in ctx.target.region_names if name != region.name]
        return results + [
            pair_result(self.name, judge_pair(region.name, peer, servers)) for peer in peers
        ]
