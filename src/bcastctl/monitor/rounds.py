"""One monitoring round: every mesh check and the RTT probe, on the target the monitor holds.

The checks run through the same runner as `verify mesh` (with the root causes) and the
probe is `probe rtt` without the client side (the monitor is not a client). A round
never raises for a finding: an unreachable region is part of its reports.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bcastctl.checks.report import CheckReport
from bcastctl.checks.runner import RunOptions, run_checks
from bcastctl.errors import UsageError
from bcastctl.probes.model import RttReport
from bcastctl.probes.rtt import RttOptions, probe_rtt_samples
from bcastctl.targets.base import Target


@dataclass(frozen=True)
class MonitorOptions:
    interval_s: float = 30.0  # from the start of one round to the start of the next
    timeout_s: float = 10.0  # one check in one region
    samples: int = 5  # RTT samples per region pair and round
    sample_interval_ms: float = 100.0
    failing_intervals: int = 3  # the alert threshold, exported for dashboards

    def validate(self) -> None:
        if not 1 <= self.interval_s <= 3600:
            raise UsageError(f"--interval {self.interval_s:g}: must be between 1 s and 1 h")
        if not 0 < self.timeout_s <= self.interval_s:
            raise UsageError(
                f"--timeout {self.timeout_s:g}: must be more than 0 and at most the interval"
            )
        RttOptions(samples=self.samples, interval_ms=self.sample_interval_ms).validate()


@dataclass(frozen=True)
class Round:
    checks: CheckReport
    rtt: RttReport
    finished_at: float  # unix time
    duration_s: float
    samples_ms: Mapping[str, Sequence[float]] = field(default_factory=dict)  # by pair name


async def one_round(target: Target, options: MonitorOptions) -> Round:
    started = time.monotonic()
    checks = await run_checks(target, RunOptions(timeout_s=options.timeout_s))
    rtt, samples = await probe_rtt_samples(
        target,
        RttOptions(
            samples=options.samples,
            interval_ms=options.sample_interval_ms,
            client=False,
            timeout_s=options.timeout_s,
        ),
    )
    return Round(checks, rtt, time.time(), round(time.monotonic() - started, 3), samples)
