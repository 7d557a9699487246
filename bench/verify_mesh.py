"""Wall time of `bcastctl verify mesh` on labs of 3, 6 and 9 regions vs the largest RTT.

    .venv/bin/python bench/verify_mesh.py [--regions 3,6,9] [--runs 5]

For each size: `lab up` (1 node per region beyond 3 regions, to spare the CPU),
then `verify mesh` as a user runs it (a new process, so start-up is included)
`--runs` times, and the in-process `run_checks` time; then `lab down`. The
largest emulated RTT is 2 x the largest configured one-way latency.
Target (issue 5): within 3 x largest RTT + 0.5 s, growing little with regions.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "lab.yaml"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCAST")}
    env["NO_COLOR"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "bcastctl", *args], capture_output=True, text=True, env=env, cwd=REPO
    )


def fleet_file(directory: Path, regions: int) -> tuple[Path, float]:
    """examples/lab.yaml for 3 regions; more regions get latencies from 20 to 140 ms."""
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["lab"]["loopback_prefix"] = f"127.{160 + regions}"
    if regions != 3:
        names = [f"r{i}" for i in range(regions)]
        data["regions"] = [
            {"name": n, "geo": {"lat": 0, "lon": i}, "replicas": 1} for i, n in enumerate(names)
        ]
        data["lab"]["latency"] = [
            {"between": [a, b], "one_way_ms": 20 + (i * 7 + j * 13) % 121}
            for i, a in enumerate(names)
            for j, b in enumerate(names)
            if i < j
        ]
    largest = max(link["one_way_ms"] for link in data["lab"]["latency"])
    path = directory / f"lab-{regions}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path, 2 * largest


async def in_process(state_dir: Path) -> float:
    from bcastctl.checks.runner import RunOptions, run_checks_on
    from bcastctl.targets.lab import LabTarget

    report = await run_checks_on(LabTarget.from_state_dir(state_dir), RunOptions())
    assert report.exit_code == 0, [r for r in report.results if r.status != "ok"]
    return report.duration_s


def bench(regions: int, runs: int, directory: Path) -> dict[str, float]:
    fleet, largest_rtt = fleet_file(directory, regions)
    state = directory / f"state-{regions}"
    up = cli("lab", "up", "--fleet", str(fleet), "--state-dir", str(state), "--timeout", "120")
    try:
        if up.returncode != 0:
            raise SystemExit(f"lab up failed: {up.stderr}")
        walls, cores = [], []
        for _ in range(runs):
            started = time.perf_counter()
            done = cli("-o", "json", "verify", "mesh", "--state-dir", str(state))
            walls.append(time.perf_counter() - started)
            result = json.loads(done.stdout)["result"]
            if done.returncode != 0:
                raise SystemExit(f"verify failed on a healthy lab: {result['root_causes']}")
            cores.append(asyncio.run(in_process(state)))
        return {
            "regions": regions,
            "largest_rtt_ms": largest_rtt,
            "cli_wall_s": statistics.median(walls),
            "checks_s": statistics.median(cores),
            "target_s": 3 * largest_rtt / 1000 + 0.5,
            "results": len(result["results"]),
        }
    finally:
        cli("lab", "down", "--state-dir", str(state))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", default="3,6,9")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    header = ["regions", "largest RTT ms", "results", "verify (CLI, wall) s", "checks only s"]
    print("| " + " | ".join([*header, "target s"]) + " |")
    print("| --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for regions in [int(n) for n in args.regions.split(",")]:
            row = bench(regions, args.runs, Path(tmp))
            print(
                f"| {row['regions']} | {row['largest_rtt_ms']:g} | {row['results']} "
                f"| {row['cli_wall_s']:.2f} | {row['checks_s']:.2f} | {row['target_s']:.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
