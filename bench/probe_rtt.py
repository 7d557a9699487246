"""`bcastctl probe rtt`: overhead over the emulated RTT, and wall time for 3 and 9 regions.

    .venv/bin/python bench/probe_rtt.py [--regions 3,9] [--samples 10] [--runs 3]

For each lab size: `lab up`, then `probe rtt -o json` (a new process) `--runs`
times; per pair the overhead is measured p50 (and min) minus the configured RTT
(2 x one-way). 3 regions = examples/lab.yaml (2 nodes per region); 9 regions have
1 node each and one-way latencies of 20-140 ms.
"""

from __future__ import annotations

import argparse
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


def fleet_file(directory: Path, regions: int) -> Path:
    data: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text())
    data["lab"]["loopback_prefix"] = f"127.{180 + regions}"
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
    path = directory / f"lab-{regions}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def bench(regions: int, samples: int, runs: int, directory: Path) -> dict[str, Any]:
    state = directory / f"state-{regions}"
    up = cli("lab", "up", "--fleet", str(fleet_file(directory, regions)), "--state-dir", str(state),
             "--timeout", "120")  # fmt: skip
    try:
        if up.returncode != 0:
            raise SystemExit(f"lab up failed: {up.stderr}")
        walls: list[float] = []
        p50_over: list[float] = []
        min_over: list[float] = []
        for _ in range(runs):
            started = time.perf_counter()
            done = cli("-o", "json", "probe", "rtt", "--state-dir", str(state), "-n", str(samples))
            walls.append(time.perf_counter() - started)
            report = json.loads(done.stdout)["result"]
            for pair in report["pairs"]:
                configured, stats = pair["configured_rtt_ms"], pair["stats"]
                p50_over.append(stats["p50_ms"] - configured)
                min_over.append(stats["min_ms"] - configured)
        largest = max(p["configured_rtt_ms"] for p in report["pairs"])
        return {
            "regions": regions,
            "pairs": len(report["pairs"]),
            "largest_rtt_ms": largest,
            "wall_s": statistics.median(walls),
            "p50_over_median": statistics.median(p50_over),
            "p50_over_max": max(p50_over),
            "min_over_median": statistics.median(min_over),
        }
    finally:
        cli("lab", "down", "--state-dir", str(state))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", default="3,9")
    parser.add_argument("--samples", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    columns = ["regions", "pairs", "largest RTT ms", "probe wall s", "p50 - configured ms",
               "worst p50 - configured ms", "min - configured ms"]  # fmt: skip
    print("| " + " | ".join(columns) + " |")
    print("|" + " --- |" * len(columns))
    with tempfile.TemporaryDirectory() as tmp:
        for regions in [int(n) for n in args.regions.split(",")]:
            row = bench(regions, args.samples, args.runs, Path(tmp))
            print(
                f"| {row['regions']} | {row['pairs']} | {row['largest_rtt_ms']:g} "
                f"| {row['wall_s']:.2f} | {row['p50_over_median']:+.2f} "
                f"| {row['p50_over_max']:+.2f} | {row['min_over_median']:+.2f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
