"""Where a reconnecting client goes next: the client-side RTT election over live nodes.

The node list comes from any answering node's `GET /api/regions` (protocol.RegionsView);
every node is timed with `GET /api/pc-config` (one warm-up, then `samples` round trips),
and the regions are ranked by `probes.client.elect` (lowest mean, at least 2 answers),
the same rule `probe rtt` and the viewer page follow. A `home` region, when given, comes
first whatever its RTT (a publisher reconnects to the URL it was given, which is its
region's).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time

from bcastctl.errors import BcastError
from bcastctl.probes.client import PROBE_PATH, elect
from bcastctl.probes.model import ClientRtt
from bcastctl.probes.stats import summarize
from bcastctl.protocol import REGIONS_PATH
from bcastctl.whip.reconnecting import Candidate, Chooser, SignallingFor

PROBE_TIMEOUT_S = 0.8


async def _regions(signalling_for: SignallingFor, origins: list[str]) -> list[Candidate] | None:
    for origin in origins:
        try:
            answer = await signalling_for(origin).request(
                "GET", REGIONS_PATH, timeout_s=PROBE_TIMEOUT_S
            )
            if answer.status == 200:
                view = json.loads(answer.body)
                return [
                    Candidate(node["name"], region["name"], node["url"])
                    for region in view["regions"]
                    for node in region["nodes"]
                ]
        except (BcastError, ValueError, KeyError, TypeError):
            continue
    return None


async def _time(signalling_for: SignallingFor, candidate: Candidate, samples: int) -> list[float]:
    signalling = signalling_for(candidate.url)
    timed: list[float] = []
    try:
        await signalling.request("GET", PROBE_PATH, timeout_s=PROBE_TIMEOUT_S)  # warm-up
        for _ in range(samples):
            started = time.perf_counter()
            answer = await signalling.request("GET", PROBE_PATH, timeout_s=PROBE_TIMEOUT_S)
            if answer.status < 500:
                timed.append((time.perf_counter() - started) * 1000)
    except BcastError:
        pass
    return timed


def _ranked(
    candidates: list[Candidate], timings: list[list[float]], home: str | None
) -> list[Candidate]:
    regions = sorted({c.region for c in candidates})
    pairs = list(zip(candidates, timings, strict=True))
    clients = [
        ClientRtt(
            region=region,
            endpoint=None,
            http=summarize([ms for c, t in pairs if c.region == region for ms in t], 0),
            stun=None,
            stun_address=None,
        )
        for region in regions
    ]
    election = elect(clients, "http")
    means = {name: mean for name, mean in election.mean_ms.items() if mean is not None}
    order = sorted(
        means,
        key=lambda r: (r != home, r != election.winner, means[r], r),
    )
    node_mean = {c.url: statistics.fmean(t) for c, t in pairs if t}
    answering = [c for c in candidates if c.url in node_mean]
    return sorted(
        (c for c in answering if c.region in means),
        key=lambda c: (order.index(c.region), node_mean[c.url]),
    )


def election_chooser(
    signalling_for: SignallingFor, seeds: list[str], home: str | None = None, samples: int = 2
) -> Chooser:
    """A Chooser: live nodes best region first (avoided URLs last); `seeds` are node URLs
    to ask for the node list (every node listed since is remembered)."""
    # every node ever listed: a node cut off from NATS lists only itself, and must not
    # make the others be forgotten
    known: dict[str, Candidate | None] = dict.fromkeys(seeds)

    async def choose(avoid: frozenset[str]) -> list[Candidate]:
        origins = [url for url in known if url not in avoid] + [u for u in known if u in avoid]
        listed = await _regions(signalling_for, origins)
        known.update({c.url: c for c in listed or []})
        candidates = [c for c in known.values() if c is not None]
        timings = await asyncio.gather(*(_time(signalling_for, c, samples) for c in candidates))
        ranked = _ranked(candidates, list(timings), home)
        return [c for c in ranked if c.url not in avoid] + [c for c in ranked if c.url in avoid]

    return choose
