"""RTT statistics and the client-side election rule, on sample sets with known answers."""

from __future__ import annotations

import pytest

from bcastctl.probes.client import elect, election_metric
from bcastctl.probes.model import ClientRtt
from bcastctl.probes.stats import percentile, summarize
from bcastctl.targets.base import Endpoint, NodeEndpoints, RegionEndpoints, TurnEndpoint


def test_summary_of_samples() -> None:
    stats = summarize([10.0, 12.0, 11.0, 30.0], lost=1)
    assert (stats.sent, stats.received, stats.loss_pct) == (5, 4, 20.0)
    assert (stats.min_ms, stats.max_ms, stats.mean_ms) == (10.0, 30.0, 15.75)
    assert stats.p50_ms == 11.5
    assert stats.p95_ms == pytest.approx(27.3)
    assert stats.jitter_ms == pytest.approx((2 + 1 + 19) / 3, abs=1e-3)


def test_every_sample_lost_is_100_percent_and_no_figures() -> None:
    stats = summarize([], lost=4)
    assert stats.loss_pct == 100 and stats.p50_ms is None and stats.received == 0


def test_percentile_interpolates_like_numpy() -> None:
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([5.0], 0.99) == 5.0


def client(region: str, http: list[float], stun: list[float] | None = None) -> ClientRtt:
    return ClientRtt(
        region=region, endpoint=f"http://{region}", http=summarize(http, 0),
        stun=summarize(stun, 0) if stun is not None else None, stun_address=None,
    )  # fmt: skip


def test_lowest_mean_wins_and_losers_say_why() -> None:
    election = elect([client("a", [20, 22]), client("b", [5, 9]), client("c", [40])])
    assert election.winner == "b" and election.metric == "http"
    assert election.why_not == {
        "a": "mean 21 ms > 7 ms (b)",
        "c": "only 1 answer(s), 2 needed",  # videocall-rs's rule: at least 2 samples
    }


def test_mean_not_median_decides() -> None:
    # b's median is lower, but one slow answer makes its mean higher
    election = elect([client("a", [10, 10, 10]), client("b", [5, 5, 40])])
    assert election.winner == "a"


def test_stun_elects_when_signalling_goes_through_the_kubernetes_api() -> None:
    def region(name: str, pod: str | None) -> RegionEndpoints:
        signalling = Endpoint(name, f"pod://ns/{name}-0:8080", pod=pod, namespace="ns", port=8080)
        node = NodeEndpoints(f"{name}-0", name, None, signalling)
        return RegionEndpoints(name, (), (node,), (), TurnEndpoint(name, "192.0.2.1"))

    assert election_metric([region("a", "a-0")]) == "stun"
    assert election_metric([region("a", None)]) == "http"
    election = elect([client("a", [1, 1], [30, 30]), client("b", [9, 9], [10, 12])], "stun")
    assert election.winner == "b" and election.why_not == {"a": "mean 30 ms > 11 ms (b)"}
