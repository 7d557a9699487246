"""The result of `probe rtt` (JSON envelope kind "RttReport", pinned by a contract test)."""

from __future__ import annotations

from typing import Literal

from bcastctl.model import FrozenModel
from bcastctl.probes.stats import SampleStats

REPORT_KIND = "RttReport"


class PairRtt(FrozenModel):
    """Node-to-node RTT from one region to another over NATS request/reply (the media path)."""

    from_region: str
    to_region: str
    from_node: str | None
    to_node: str | None
    stats: SampleStats
    gateway_rtt_ms: float | None  # what from_region's NATS reports for its link to to_region
    # why gateway_rtt_ms is None: "not measured yet" (connected, before NATS's first PING
    # on the link), "not connected", "NATS monitor not answering"; None when measured
    gateway_rtt_note: str | None = None
    configured_rtt_ms: float | None  # the lab's 2 x one-way latency (None on clusters)
    error: str | None = None

    @property
    def name(self) -> str:
        return f"{self.from_region}->{self.to_region}"


class ClientRtt(FrozenModel):
    """From where bcastctl runs to a region: HTTP to signalling, STUN to its TURN address."""

    region: str
    endpoint: str | None
    http: SampleStats
    stun: SampleStats | None  # None when the region has no TURN address
    stun_address: str | None
    error: str | None = None


Metric = Literal["http", "stun"]


class Election(FrozenModel):
    """The region a client would elect: lowest mean RTT over at least 2 probes."""

    winner: str | None
    metric: Metric  # which RTT elected: "http" (signalling endpoint) or "stun" (TURN address)
    mean_ms: dict[str, float | None]
    why_not: dict[str, str]  # loser -> why it lost


class RttReport(FrozenModel):
    target: str
    fleet: str
    regions: list[str]
    samples: int
    interval_ms: float
    pairs: list[PairRtt]
    client: list[ClientRtt]
    election: Election
    max_rtt_ms: float | None
    over_max: list[str]  # "A->B" pairs whose p50 (or 100 % loss) is over --max-rtt
    unreachable_regions: dict[str, str]
    duration_s: float
    exit_code: int
