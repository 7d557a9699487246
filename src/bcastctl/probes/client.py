"""The client's view: RTT from where bcastctl runs to each region, and the region it would elect.

Per region, concurrently: HTTP GETs of the public signalling endpoint's
`/api/pc-config` on a kept-alive connection (one warm-up first, so a sample is
one round trip, not a TCP handshake), and STUN Binding requests to the region's
TURN address, one probe every `interval_ms`. The election follows videocall-rs's
client: at least 2 samples per region, the lowest mean RTT wins; every loser gets
the reason it lost. The RTT is HTTP's when bcastctl reaches the signalling
endpoints directly (the lab), STUN's to the public TURN address when it reaches
them through the Kubernetes API (whose path is not the client's).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from bcastctl.adapters.turn import stun_binding_rtt
from bcastctl.errors import BcastError
from bcastctl.probes.model import ClientRtt, Election, Metric
from bcastctl.probes.stats import SampleStats, summarize
from bcastctl.targets.base import Endpoint, RegionEndpoints, Target, http_get

PROBE_PATH = "/api/pc-config"


async def _http_rtt(target: Target, endpoint: Endpoint, timeout_s: float) -> float | None:
    started = time.perf_counter()
    try:
        response = await http_get(target, endpoint, PROBE_PATH, timeout_s=timeout_s)
    except BcastError:
        return None
    if response.status >= 500:
        return None
    return round((time.perf_counter() - started) * 1000, 3)


async def _probe_region(
    target: Target, region: RegionEndpoints, samples: int, interval_ms: float
) -> ClientRtt:
    endpoint = next((n.signalling for n in region.nodes if n.signalling), None)
    turn = region.turn
    stun_address = f"{turn.host}:{turn.port}" if turn.host else None
    if endpoint is None:
        return ClientRtt(
            region=region.name, endpoint=None, http=summarize([], samples),
            stun=None, stun_address=stun_address, error="no running node to probe",
        )  # fmt: skip
    await _http_rtt(target, endpoint, 2.0)  # warm-up: open the kept-alive connection
    http: list[float | None] = []
    stun: list[float | None] = []
    for index in range(samples):
        if index:
            await asyncio.sleep(interval_ms / 1000)
        http.append(await _http_rtt(target, endpoint, 2.0))
        if turn.host:
            stun.append(await stun_binding_rtt(turn.host, turn.port, timeout_s=1.0))
    http_ok = [s for s in http if s is not None]
    stun_ok = [s for s in stun if s is not None]
    return ClientRtt(
        region=region.name,
        endpoint=endpoint.url,
        http=summarize(http_ok, len(http) - len(http_ok)),
        stun=summarize(stun_ok, len(stun) - len(stun_ok)) if turn.host else None,
        stun_address=stun_address,
        error=None if http_ok else f"{endpoint.url}{PROBE_PATH}: no answer",
    )


def _measure(client: ClientRtt, metric: Metric) -> SampleStats | None:
    return client.http if metric == "http" else client.stun


def elect(clients: Sequence[ClientRtt], metric: Metric = "http", min_samples: int = 2) -> Election:
    """Lowest mean RTT (by `metric`) over regions with at least `min_samples` answers."""
    stats = {c.region: _measure(c, metric) for c in clients}
    means = {name: s.mean_ms if s else None for name, s in stats.items()}
    eligible = {
        name: s.mean_ms
        for name, s in stats.items()
        if s is not None and s.mean_ms is not None and s.received >= min_samples
    }
    if not eligible:
        why = {c.region: c.error or f"too few {metric} answers" for c in clients}
        return Election(winner=None, metric=metric, mean_ms=means, why_not=why)
    winner = min(eligible, key=lambda name: (eligible[name], name))
    best = eligible[winner]
    why_not: dict[str, str] = {}
    for client in clients:
        if client.region == winner:
            continue
        mean = eligible.get(client.region)
        measured = stats[client.region]
        if mean is not None:
            why_not[client.region] = f"mean {mean:g} ms > {best:g} ms ({winner})"
        elif measured is None:
            why_not[client.region] = f"no {metric} address to probe"
        else:
            why_not[client.region] = client.error or (
                f"only {measured.received} answer(s), {min_samples} needed"
            )
    return Election(winner=winner, metric=metric, mean_ms=means, why_not=why_not)


def election_metric(regions: Sequence[RegionEndpoints]) -> Metric:
    """HTTP when the signalling endpoints are reached directly (the client's own path);
    STUN to the public TURN address when they are reached through the Kubernetes API."""
    proxied = any(n.signalling and n.signalling.pod for r in regions for n in r.nodes)
    return "stun" if proxied else "http"


async def probe_clients(
    target: Target, regions: Sequence[RegionEndpoints], samples: int, interval_ms: float
) -> tuple[list[ClientRtt], Election]:
    clients = list(
        await asyncio.gather(*(_probe_region(target, r, samples, interval_ms) for r in regions))
    )
    return clients, elect(clients, election_metric(regions))
