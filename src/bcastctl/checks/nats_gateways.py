"""nats-gateways: every region's NATS servers have a live gateway link to every other region.

From each NATS server's `/varz` (the configured gateways) and `/gatewayz` (the
connected ones): for the pair A->B, every server of A has a connected outbound
gateway to B, and B's servers dial into A, with the RTT NATS measures on the link.
A dead link simply vanishes from `/gatewayz` (there is no "down" state), so
configured-but-absent is what a cut link looks like. Results are one per
ordered pair; an unreachable monitor endpoint fails its region.
"""

from __future__ import annotations

from collections.abc import Sequence

from bcastctl.checks.base import Check, CheckContext, CheckResult, Value, fail, ok, pair
from bcastctl.errors import BcastError
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.nats_monitor import ServerLinks, read_server_links


def judge_pair(check: str, region: str, peer: str, servers: Sequence[ServerLinks]) -> CheckResult:
    """A->B is healthy when every server of A is configured for B and dials B, and B dials A.

    Every NATS server keeps its own outbound connection to each other gateway, but a
    remote server dials just one server of the cluster: inbound connections from B
    are counted over the region, not required on every server.
    """
    scope = pair(region, peer)
    not_configured = [s.monitor for s in servers if peer not in s.configured]
    no_outbound = [s.monitor for s in servers if peer not in s.outbound_rtt_ms]
    inbound = sum(1 for s in servers if peer in s.inbound)
    rtts = [rtt for s in servers if (rtt := s.outbound_rtt_ms.get(peer)) is not None]
    rtt_ms = round(max(rtts), 3) if rtts else None
    values: dict[str, Value] = {
        "servers": len(servers),
        "outbound_connected": len(servers) - len(no_outbound),
        "inbound_servers": inbound,
        "rtt_ms": rtt_ms,
    }
    if not_configured:
        return fail(
            check,
            scope,
            f"gateway {peer} not configured on {', '.join(not_configured)}",
            hint=f"add {peer} to the gateway block of {region}'s NATS config (re-render)",
            values=values,
        )
    if no_outbound or not inbound:
        missing = (
            [f"outbound on {len(no_outbound)}/{len(servers)} server(s)"] if no_outbound else []
        )
        missing += [] if inbound else [f"inbound from {peer}"]
        return fail(
            check,
            scope,
            f"configured but not connected: {' and '.join(missing)}",
            hint=f"the gateway link {region} <-> {peer} is down: check the path between them "
            f"and {peer}'s gateway port",
            values=values,
        )
    shown = f", rtt {rtt_ms:g} ms" if rtt_ms is not None else ""
    return ok(
        check,
        scope,
        f"outbound on {len(servers)} server(s) and inbound connected{shown}",
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
            [read_server_links(ctx.target, m, ctx.timeout_s) for m in region.nats_monitors]
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
        return results + [judge_pair(self.name, region.name, peer, servers) for peer in peers]
