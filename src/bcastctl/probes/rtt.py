"""`probe rtt`: the region-to-region RTT matrix the way media travels, plus what NATS reports.

For every ordered pair (A, B) a node in A asks a node in B over NATS
request/reply through the gateways (`/api/diag/rtt` on A's node), `samples`
times at `interval_ms`; every pair runs concurrently. Each region's NATS
monitor gives the RTT it measures on its gateway link to every other region.
A cut link is 100 % loss for its pairs, never an error of the whole probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass

from bcastctl.errors import BcastError, ExitCode, UsageError
from bcastctl.model import replace
from bcastctl.probes.client import probe_clients
from bcastctl.probes.model import Election, PairRtt, RttReport
from bcastctl.probes.stats import summarize
from bcastctl.readers.nats import NOT_MEASURED, ServerLinks, read_server_links
from bcastctl.targets.base import (
    EndpointSource,
    NodeEndpoints,
    RegionEndpoints,
    Target,
    get_json,
)
from bcastctl.targets.capabilities import emulated_latency


@dataclass(frozen=True)
class RttOptions:
    samples: int = 10
    interval_ms: float = 100.0
    sample_timeout_ms: float = 1000.0  # a sample not answered in this long is lost
    max_rtt_ms: float | None = None
    client: bool = True  # also probe from here to every region, and elect one
    client_samples: int = 3
    client_interval_ms: float = 200.0
    timeout_s: float = 10.0  # reaching a region's endpoints

    def validate(self) -> None:
        if not 1 <= self.samples <= 1000:
            raise UsageError(f"--samples {self.samples}: must be between 1 and 1000")
        if not 0 <= self.interval_ms <= 10_000:
            raise UsageError(f"--interval {self.interval_ms:g}: must be between 0 and 10000 ms")
        if self.max_rtt_ms is not None and self.max_rtt_ms <= 0:
            raise UsageError(f"--max-rtt {self.max_rtt_ms:g}: must be more than 0 ms")
        if self.client_samples < 2:
            raise UsageError("client probes need at least 2 samples per region")


def gateway_rtt(gateway: ServerLinks | None, peer: str) -> tuple[float | None, str | None]:
    """The RTT `gateway`'s NATS measured on its link to `peer`, or why there is none.

    nats-server reports 0 for a link it has not timed yet (see readers.nats): that is
    "not measured yet", never 0 ms.
    """
    if gateway is None:
        return None, "NATS monitor not answering"
    if peer not in gateway.outbound_rtt_ms:
        return None, "not connected"
    rtt_ms = gateway.outbound_rtt_ms[peer]
    return (rtt_ms, None) if rtt_ms is not None else (None, NOT_MEASURED)


def _pick(nodes: Sequence[NodeEndpoints], avoid: str | None = None) -> NodeEndpoints | None:
    return next((n for n in nodes if n.admin is not None and n.name != avoid), None)


async def _pair(
    target: Target,
    a: RegionEndpoints,
    b: RegionEndpoints,
    options: RttOptions,
    gateway: ServerLinks | None,
    start_delay_s: float = 0.0,
) -> tuple[PairRtt, list[float]]:
    """The pair's RTT, and every answered sample (for `monitor`'s histogram, not the JSON)."""
    await asyncio.sleep(start_delay_s)
    source, peer = _pick(a.nodes), _pick(b.nodes)
    emulated = emulated_latency(target)
    gateway_rtt_ms, gateway_rtt_note = gateway_rtt(gateway, b.name)
    base = PairRtt(
        from_region=a.name,
        to_region=b.name,
        from_node=source.name if source else None,
        to_node=peer.name if peer else None,
        stats=summarize([], options.samples),
        gateway_rtt_ms=gateway_rtt_ms,
        gateway_rtt_note=gateway_rtt_note,
        configured_rtt_ms=emulated.configured_rtt_ms(a.name, b.name) if emulated else None,
    )
    if source is None or source.admin is None or peer is None:
        missing = a.name if source is None else b.name
        return replace(base, error=f"no running node in {missing}"), []
    params = {
        "peer": peer.name,
        "n": str(options.samples),
        "interval_ms": str(int(options.interval_ms)),
        "timeout_ms": str(int(options.sample_timeout_ms)),
    }
    budget = options.samples * (options.interval_ms + options.sample_timeout_ms) / 1000 + 5
    try:
        answer = await get_json(target, source.admin, "/api/diag/rtt", params, budget)
    except BcastError as e:
        return replace(base, error=e.message), []
    samples = [float(s) for s in answer.get("samples_ms") or []]
    lost = int(answer.get("lost", 0))
    return replace(base, stats=summarize(samples, lost)), samples


async def _gateways(
    target: Target, region: RegionEndpoints, timeout_s: float
) -> ServerLinks | None:
    for monitor in region.nats_monitors:
        try:
            return await read_server_links(EndpointSource(target, monitor, timeout_s))
        except BcastError:
            continue
    return None


async def _regions(
    target: Target, timeout_s: float
) -> tuple[list[RegionEndpoints], dict[str, str]]:
    names = list(target.region_names)
    answers = await asyncio.gather(
        *(target.region(name, timeout_s) for name in names), return_exceptions=True
    )
    reached: list[RegionEndpoints] = []
    unreachable: dict[str, str] = {}
    for name, answer in zip(names, answers, strict=True):
        if isinstance(answer, RegionEndpoints):
            reached.append(answer)
        elif isinstance(answer, BcastError):
            unreachable[name] = answer.message
        elif isinstance(answer, BaseException):
            raise answer
    return reached, unreachable


def over_threshold(pairs: Sequence[PairRtt], max_rtt_ms: float | None) -> list[str]:
    """Pairs whose p50 exceeds max_rtt_ms, or that lost every sample."""
    if max_rtt_ms is None:
        return []
    return [p.name for p in pairs if p.stats.p50_ms is None or p.stats.p50_ms > max_rtt_ms]


async def probe_rtt(target: Target, options: RttOptions) -> RttReport:
    report, _ = await probe_rtt_samples(target, options)
    return report


async def probe_rtt_samples(
    target: Target, options: RttOptions
) -> tuple[RttReport, dict[str, list[float]]]:
    """The report, and every answered sample by pair name ("A->B") for `monitor`."""
    options.validate()
    started = time.monotonic()
    regions, unreachable = await _regions(target, options.timeout_s)
    gateways = await asyncio.gather(*(_gateways(target, r, options.timeout_s) for r in regions))
    gateway_of = {r.name: g for r, g in zip(regions, gateways, strict=True)}
    ordered = [(a, b) for a in regions for b in regions if a != b]
    # staggered over one interval, so that the pairs' requests do not all leave at once
    stagger_s = options.interval_ms / 1000 / max(1, len(ordered))
    pair_runs = [
        _pair(target, a, b, options, gateway_of[a.name], index * stagger_s)
        for index, (a, b) in enumerate(ordered)
    ]
    measured = await asyncio.gather(*pair_runs)
    pairs = [pair for pair, _ in measured]
    # after the pairs, not with them: the client probes must not load the measured nodes
    clients, election = (
        await probe_clients(target, regions, options.client_samples, options.client_interval_ms)
        if options.client
        else ([], Election(winner=None, metric="http", mean_ms={}, why_not={}))
    )
    over = over_threshold(pairs, options.max_rtt_ms)
    code = ExitCode.UNREACHABLE if not regions else ExitCode.CHECKS_FAILED if over else ExitCode.OK
    report = RttReport(
        target=target.kind,
        fleet=target.fleet.name,
        regions=[r.name for r in regions],
        samples=options.samples,
        interval_ms=options.interval_ms,
        pairs=pairs,
        client=clients,
        election=election,
        max_rtt_ms=options.max_rtt_ms,
        over_max=over,
        unreachable_regions=unreachable,
        duration_s=round(time.monotonic() - started, 3),
        exit_code=int(code),
    )
    return report, {pair.name: samples for pair, samples in measured}


async def probe_rtt_on(target: Target, options: RttOptions) -> RttReport:
    """probe_rtt, then close the target (the CLI's one call)."""
    try:
        return await probe_rtt(target, options)
    finally:
        await target.close()
