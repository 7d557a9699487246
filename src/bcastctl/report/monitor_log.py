"""The one stderr line `monitor` prints per round."""

from __future__ import annotations

from bcastctl.monitor.rounds import Round


def round_line(done: Round) -> str:
    checks = done.checks
    failed = checks.summary.fail
    lost = [p.name for p in done.rtt.pairs if p.stats.p50_ms is None]
    line = (
        f"monitor: round in {done.duration_s:.1f} s: {failed}/{checks.summary.total} failed"
        f", {len(checks.root_causes)} root cause(s)"
    )
    if lost:
        line += f"; RTT lost: {', '.join(lost)}"
    return line
