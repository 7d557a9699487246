"""The monitor's metrics (Prometheus, official client): what the last round found.

Gauges are produced from the last round at scrape time (a custom collector), so a
series that no longer applies — a healed cause, a removed node — disappears instead of
keeping its last value. RTT samples go into a real histogram that accumulates.

Series (labels in braces; `from`/`to` are region names, times in seconds):
  bcast_check_status{check,scope,status}   1 for the status of each result (a state set)
  bcast_check_failing_rounds{check,scope}  consecutive rounds this result failed
  bcast_region_reachable{region}           1 when the target reached the region
  bcast_gateway_up{from,to}                1 when nats-gateways found the link connected
  bcast_gateway_rtt_seconds{from,to}       the RTT NATS measures on the gateway link
  bcast_rtt_seconds{from,to}               histogram of node-to-node RTT samples
  bcast_rtt_p50_seconds{from,to}           the last round's p50 (absent when all lost)
  bcast_rtt_loss_ratio{from,to}            the last round's loss, 0..1
  bcast_partitioned                        1 when membership found a partition
  bcast_partition{a,b}                     1 per region pair split apart
  bcast_membership_size{node,region}       members each node sees (itself excluded)
  bcast_node_rejected{node,by}             1 when node `by` rejects `node` (wrong secret)
  bcast_registry_agreement{node,region}    1 when the node agrees on the stream registry
  bcast_turn_up{region}                    1 when a TURN allocation succeeded
  bcast_turn_allocation_seconds{region}    time the TURN allocation took
  bcast_root_cause{layer,cause}            1 per root cause active in the last round
  bcast_monitor_rounds_total               rounds done
  bcast_monitor_round_errors_total         rounds that failed as a whole (logged)
  bcast_monitor_round_duration_seconds     the last round's duration
  bcast_monitor_last_round_timestamp_seconds
  bcast_monitor_interval_seconds / bcast_monitor_failing_intervals   the settings
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bcastctl.checks import membership, nats_gateways, stream_registry, turn
from bcastctl.checks.base import CheckResult, Status
from bcastctl.monitor.rounds import MonitorOptions, Round

RTT_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1.0, 2.0)


def _gauge(name: str, doc: str, labels: list[str]) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=labels)


def _seconds(ms: float | None) -> float | None:
    return ms / 1000 if ms is not None else None


@dataclass
class _State:
    options: MonitorOptions
    latest: Round | None = None
    failing: dict[tuple[str, str], int] = field(default_factory=dict)


def _check_families(state: _State, latest: Round) -> Iterator[Metric]:
    status = _gauge(
        "bcast_check_status", "Status of each check result", ["check", "scope", "status"]
    )
    failing = _gauge(
        "bcast_check_failing_rounds", "Consecutive rounds a result failed", ["check", "scope"]
    )
    for result in latest.checks.results:
        status.add_metric([result.check, result.scope, result.status.value], 1)
        failing.add_metric([result.check, result.scope], state.failing.get(_key(result), 0))
    reachable = _gauge("bcast_region_reachable", "1 when the region was reached", ["region"])
    for region in latest.checks.regions:
        reachable.add_metric([region], 0 if region in latest.checks.unreachable_regions else 1)
    causes = _gauge("bcast_root_cause", "1 per active root cause", ["layer", "cause"])
    for cause in latest.checks.root_causes:
        causes.add_metric([cause.layer, cause.cause], 1)
    yield from (status, failing, reachable, causes)


def _mesh_families(latest: Round) -> Iterator[Metric]:
    up = _gauge("bcast_gateway_up", "1 when the NATS gateway link is connected", ["from", "to"])
    partitioned = GaugeMetricFamily("bcast_partitioned", "1 when membership is partitioned")
    split = _gauge("bcast_partition", "1 per region pair split apart", ["a", "b"])
    size = _gauge("bcast_membership_size", "Members a node sees", ["node", "region"])
    rejected = _gauge("bcast_node_rejected", "1 when `by` rejects `node`", ["node", "by"])
    agree = _gauge("bcast_registry_agreement", "1 when the node agrees", ["node", "region"])
    turn_up = _gauge("bcast_turn_up", "1 when a TURN allocation succeeded", ["region"])
    turn_s = _gauge("bcast_turn_allocation_seconds", "TURN allocation time", ["region"])
    for r in latest.checks.results:
        region = r.regions[0] if r.regions else r.scope
        if r.check == nats_gateways.NAME and r.scope_kind == "pair":
            up.add_metric(list(r.regions), 1 if r.status == Status.ok else 0)
        elif r.check == membership.NAME and r.scope_kind == "fleet":
            partition = membership.Partition.of(r)
            split_pairs = partition.split_pairs if partition is not None else []
            partitioned.add_metric([], 1 if split_pairs else 0)
            for pair in split_pairs:
                split.add_metric(pair.split("<->", 1), 1)
        elif (seen := membership.NodeMembership.of(r)) is not None:
            size.add_metric([r.scope, region], float(seen.members))
            for name in seen.rejected:
                rejected.add_metric([name, r.scope], 1)
        elif r.check == stream_registry.NAME and r.scope_kind == "node":
            agree.add_metric([r.scope, region], 1 if r.status == Status.ok else 0)
        elif r.check == turn.NAME and r.status != Status.skip:
            turn_up.add_metric([r.scope], 1 if r.status == Status.ok else 0)
            if (allocation := turn.Allocation.of(r)) is not None:
                turn_s.add_metric([r.scope], allocation.elapsed_ms / 1000)
    yield from (up, partitioned, split, size, rejected, agree, turn_up, turn_s)


def _rtt_families(latest: Round) -> Iterator[Metric]:
    p50 = _gauge("bcast_rtt_p50_seconds", "Node-to-node RTT p50, last round", ["from", "to"])
    loss = _gauge("bcast_rtt_loss_ratio", "RTT samples lost, last round", ["from", "to"])
    gateway = _gauge("bcast_gateway_rtt_seconds", "RTT NATS measures on the link", ["from", "to"])
    for pair in latest.rtt.pairs:
        labels = [pair.from_region, pair.to_region]
        if (seconds := _seconds(pair.stats.p50_ms)) is not None:
            p50.add_metric(labels, seconds)
        loss.add_metric(labels, pair.stats.loss_pct / 100)
        if (seconds := _seconds(pair.gateway_rtt_ms)) is not None:
            gateway.add_metric(labels, seconds)
    yield from (p50, loss, gateway)


def _key(result: CheckResult) -> tuple[str, str]:
    return (result.check, result.scope)


class _LastRound(Collector):
    def __init__(self, state: _State) -> None:
        self.state = state

    def collect(self) -> Iterator[Metric]:
        options = self.state.options
        yield GaugeMetricFamily(
            "bcast_monitor_interval_seconds", "Seconds between rounds", options.interval_s
        )
        yield GaugeMetricFamily(
            "bcast_monitor_failing_intervals",
            "Rounds a check may fail before it alerts",
            options.failing_intervals,
        )
        latest = self.state.latest
        if latest is None:
            return
        yield GaugeMetricFamily(
            "bcast_monitor_round_duration_seconds", "Last round's duration", latest.duration_s
        )
        yield GaugeMetricFamily(
            "bcast_monitor_last_round_timestamp_seconds",
            "End of the last round",
            latest.finished_at,
        )
        yield from _check_families(self.state, latest)
        yield from _mesh_families(latest)
        yield from _rtt_families(latest)


class MonitorMetrics:
    """The registry `/metrics` serves; `record(round)` after every round."""

    def __init__(self, options: MonitorOptions) -> None:
        self.registry = CollectorRegistry()
        self._state = _State(options)
        self.registry.register(_LastRound(self._state))
        self._rounds = Counter("bcast_monitor_rounds", "Rounds done", registry=self.registry)
        self._errors = Counter(
            "bcast_monitor_round_errors", "Rounds that failed as a whole", registry=self.registry
        )
        self._rtt = Histogram(
            "bcast_rtt_seconds",
            "Node-to-node RTT samples over NATS",
            ["from", "to"],
            buckets=RTT_BUCKETS_S,
            registry=self.registry,
        )

    def record(self, done: Round) -> None:
        failing: dict[tuple[str, str], int] = {}
        for result in done.checks.results:
            if result.status == Status.fail:
                failing[_key(result)] = self._state.failing.get(_key(result), 0) + 1
        self._state.failing = failing
        self._state.latest = done
        for pair in done.rtt.pairs:
            histogram = self._rtt.labels(pair.from_region, pair.to_region)
            for sample_ms in done.samples_ms.get(pair.name, ()):
                histogram.observe(sample_ms / 1000)
        self._rounds.inc()

    def record_error(self) -> None:
        self._errors.inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
