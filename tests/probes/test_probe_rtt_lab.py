"""`bcastctl probe rtt` on a real lab (examples/lab.yaml): accuracy, faults, JSON, export."""

from __future__ import annotations

import html as html_module
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from checks_testkit import REPO, cli, lab_fleet, running_lab

pytestmark = pytest.mark.slow
A, B, C = "us-east5", "europe-west9", "asia-southeast1"
REPORT_KEYS = {
    "target", "fleet", "regions", "samples", "interval_ms", "pairs", "client", "election",
    "max_rtt_ms", "over_max", "unreachable_regions", "duration_s", "exit_code",
}  # fmt: skip
PAIR_KEYS = {
    "from_region", "to_region", "from_node", "to_node", "stats", "gateway_rtt_ms",
    "gateway_rtt_note", "configured_rtt_ms", "error",
}  # fmt: skip
STATS_KEYS = {
    "sent", "received", "loss_pct", "min_ms", "p50_ms", "p95_ms", "p99_ms", "max_ms",
    "mean_ms", "jitter_ms",
}  # fmt: skip
CLIENT_KEYS = {"region", "endpoint", "http", "stun", "stun_address", "error"}
ELECTION_KEYS = {"winner", "metric", "mean_ms", "why_not"}


def configured_rtt_ms(a: str, b: str) -> float:
    """Twice the one-way latency examples/lab.yaml configures (read here, not from bcastctl)."""
    lab = yaml.safe_load((REPO / "examples" / "lab.yaml").read_text())["lab"]
    for link in lab["latency"]:
        if set(link["between"]) == {a, b}:
            return 2 * float(link["one_way_ms"])
    raise KeyError((a, b))


def close_to(measured: float | None, expected: float) -> bool:
    """Within 3 ms or 3 %, whichever is larger (issue 6, acceptance 1)."""
    return measured is not None and abs(measured - expected) <= max(3.0, 0.03 * expected)


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("probe-lab")
    with running_lab(lab_fleet(directory / "lab.yaml"), directory / "state") as state_dir:
        yield state_dir


def probe(lab: Path, *args: str) -> tuple[int, dict[str, Any]]:
    done = cli("-o", "json", "probe", "rtt", "--state-dir", str(lab), *args)
    assert done.stdout, f"exit {done.returncode}: {done.stderr}"
    return done.returncode, json.loads(done.stdout)["result"]


def pairs_of(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {f"{p['from_region']}->{p['to_region']}": p for p in report["pairs"]}


def configured(pair: dict[str, Any]) -> float:
    return configured_rtt_ms(pair["from_region"], pair["to_region"])


def off_pairs(
    report: dict[str, Any], expected: Callable[[dict[str, Any]], float] = configured
) -> dict[str, tuple[float | None, float]]:
    """Pairs whose p50 is not within tolerance of the expected RTT: name -> (p50, expected)."""
    off = {}
    for name, pair in pairs_of(report).items():
        if not close_to(pair["stats"]["p50_ms"], expected(pair)):
            off[name] = (pair["stats"]["p50_ms"], expected(pair))
    return off


def probe_until_close(
    lab: Path, expected: Callable[[dict[str, Any]], float], *args: str, attempts: int = 4
) -> tuple[dict[str, Any], list[dict[str, tuple[float | None, float]]]]:
    """Probe until every pair has been within tolerance in at least one probe.

    CPU is shared with other test runs (load averages of 5-7 on 2 cores were seen):
    a loaded moment adds a few ms to every hop of a probe, so a pair gets up to
    `attempts` probes. A probe that is wrong by design (one-way only, handshakes
    counted, wrong pair) stays off in every attempt and fails.
    """
    pending: set[str] | None = None
    history = []
    for _ in range(attempts):
        _, report = probe(lab, "--no-client", *args)
        assert all(p["stats"]["loss_pct"] == 0 for p in report["pairs"]), report["pairs"]
        off = off_pairs(report, expected)
        history.append(off)
        pending = set(off) if pending is None else pending & set(off)
        if not pending:
            break
    assert not pending, f"never within tolerance: {sorted(pending or ())}; attempts: {history}"
    return report, history


def test_p50_is_twice_the_configured_one_way_latency(lab: Path) -> None:
    """Node-to-node p50 and NATS's own gateway RTT both match the configured latency.

    The gateway RTT is read at once after `lab up`: lab readiness waits until nats-server
    has measured every link (it says "0s" until its first PING on a link, about 1 s after
    the link connects; tests/lab/test_lab_up.py), so a measured RTT is there to read.
    """
    report, history = probe_until_close(lab, configured, "-n", "10", "--interval", "100")
    assert len(report["pairs"]) == 6
    print(f"\nattempts: {len(history)}; off pairs per attempt: {history}")
    for name, pair in pairs_of(report).items():
        # NATS's own figure: one PING it timed at some moment, so a looser bound
        expected = configured(pair)
        assert pair["gateway_rtt_note"] is None, name
        assert pair["gateway_rtt_ms"] == pytest.approx(expected, abs=max(10, 0.1 * expected)), name


def test_json_contract_and_export(lab: Path, tmp_path: Path) -> None:
    svg, html = tmp_path / "rtt.svg", tmp_path / "rtt.html"
    code, report = probe(lab, "-n", "3", "--export", str(svg))
    assert code == 0
    assert set(report) == REPORT_KEYS
    assert all(set(p) == PAIR_KEYS and set(p["stats"]) == STATS_KEYS for p in report["pairs"])
    assert all(set(c) == CLIENT_KEYS for c in report["client"])
    assert set(report["election"]) == ELECTION_KEYS
    assert report["election"]["winner"] in (A, B, C) and report["election"]["metric"] == "http"
    assert set(report["election"]["why_not"]) == {A, B, C} - {report["election"]["winner"]}
    text = html_module.unescape(svg.read_text()).replace("\xa0", " ")
    assert text.lstrip().startswith("<svg") and "RTT p50 ms" in text
    for pair in report["pairs"]:  # the matrix cells carry the same p50 as the JSON
        assert f"{pair['stats']['p50_ms']:.1f}" in text
    assert probe(lab, "-n", "2", "--no-client", "--export", str(html))[0] == 0
    page = html.read_text()
    assert "<html" in page.lower() and all(region in page for region in (A, B, C))


def test_slow_link_shows_in_that_pair_only(lab: Path) -> None:
    def expected(pair: dict[str, Any]) -> float:
        ends = {pair["from_region"], pair["to_region"]}
        return 20.0 if ends == {A, B} else configured_rtt_ms(*ends)

    slow = cli("lab", "fault", "slow-link", A, B, "--ms", "10", "--state-dir", str(lab))
    assert slow.returncode == 0, slow.stderr
    try:
        report, _ = probe_until_close(lab, expected, "-n", "6", "--interval", "100")
    finally:
        assert cli("lab", "fault", "heal-link", A, B, "--state-dir", str(lab)).returncode == 0
    # and it was the slowed pair that changed: 20 ms where 84 ms was configured
    assert pairs_of(report)[f"{A}->{B}"]["configured_rtt_ms"] == 20.0


def test_cut_link_is_full_loss_for_that_pair_not_a_crash(lab: Path) -> None:
    assert cli("lab", "fault", "cut-link", A, C, "--state-dir", str(lab)).returncode == 0
    try:
        code, report = probe(lab, "--no-client", "-n", "3", "--interval", "50", "--max-rtt", "1000")
    finally:
        assert cli("lab", "fault", "heal-link", A, C, "--state-dir", str(lab)).returncode == 0
    pairs = pairs_of(report)
    for name in (f"{A}->{C}", f"{C}->{A}"):
        assert pairs[name]["stats"]["loss_pct"] == 100 and pairs[name]["stats"]["p50_ms"] is None
    others = [p for n, p in pairs.items() if n not in (f"{A}->{C}", f"{C}->{A}")]
    assert all(p["stats"]["loss_pct"] == 0 for p in others)
    assert code == 1 and sorted(report["over_max"]) == sorted([f"{A}->{C}", f"{C}->{A}"])


def test_bad_input_is_one_line_and_exit_2(lab: Path, tmp_path: Path) -> None:
    for args, needle in (
        (["--samples", "0"], "--samples"),
        (["--max-rtt", "-5"], "--max-rtt"),
        (["--export", str(tmp_path / "rtt.png")], ".svg or .html"),
    ):
        done = cli("probe", "rtt", "--state-dir", str(lab), *args)
        assert done.returncode == 2, (args, done.stderr)
        assert needle in done.stderr and "Traceback" not in done.stderr


def test_watch_refreshes_until_interrupted(lab: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCAST")}
    env.update({"NO_COLOR": "1", "COLUMNS": "200"})
    command = [sys.executable, "-m", "bcastctl", "probe", "rtt", "--watch", "--state-dir",
               str(lab), "--no-client", "-n", "2", "--interval", "10"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        lines: list[bytes] = []
        assert process.stdout is not None
        while not any(b"round 2," in line for line in lines):
            line = process.stdout.readline()
            assert line, f"watch ended early: {process.stderr.read() if process.stderr else ''!r}"
            lines.append(line)
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 130
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    text = b"".join(lines).decode()
    assert text.count("RTT p50 ms") == 2 and "round 1," in text
