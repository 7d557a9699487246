"""Summary statistics of RTT samples: min, percentiles, max, mean, jitter, loss."""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from bcastctl.model import FrozenModel


class SampleStats(FrozenModel):
    sent: int
    received: int
    loss_pct: float
    min_ms: float | None
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None
    jitter_ms: float | None  # mean absolute difference of consecutive samples (RFC 3550 style)


def percentile(sorted_samples: Sequence[float], fraction: float) -> float:
    """Linear interpolation between closest ranks (numpy's default method)."""
    if not sorted_samples:
        raise ValueError("no samples")
    position = (len(sorted_samples) - 1) * fraction
    low, high = math.floor(position), math.ceil(position)
    weight = position - low
    return sorted_samples[low] * (1 - weight) + sorted_samples[high] * weight


def summarize(samples_ms: Sequence[float], lost: int) -> SampleStats:
    sent = len(samples_ms) + lost
    loss = round(100.0 * lost / sent, 2) if sent else 100.0
    if not samples_ms:
        return SampleStats(
            sent=sent, received=0, loss_pct=loss, min_ms=None, p50_ms=None, p95_ms=None,
            p99_ms=None, max_ms=None, mean_ms=None, jitter_ms=None,
        )  # fmt: skip
    ordered = sorted(samples_ms)
    diffs = [abs(b - a) for a, b in itertools.pairwise(samples_ms)]

    def r(value: float) -> float:
        return round(value, 3)

    return SampleStats(
        sent=sent,
        received=len(samples_ms),
        loss_pct=loss,
        min_ms=r(ordered[0]),
        p50_ms=r(percentile(ordered, 0.50)),
        p95_ms=r(percentile(ordered, 0.95)),
        p99_ms=r(percentile(ordered, 0.99)),
        max_ms=r(ordered[-1]),
        mean_ms=r(sum(ordered) / len(ordered)),
        jitter_ms=r(sum(diffs) / len(diffs)) if diffs else 0.0,
    )
