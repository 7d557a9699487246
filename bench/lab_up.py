"""Time to ready of `bcastctl lab up` on examples/lab.yaml, and of `lab down` (target: <= 10 s).

Each run starts the whole lab as a user would (the CLI in a new process), reads the
ready time it reports, then stops it. Run:

    .venv/bin/python bench/lab_up.py [--runs 3] [--fleet examples/lab.yaml] [--no-nodes]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def bcastctl(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "bcastctl", *args]
    return subprocess.run(command, capture_output=True, text=True, cwd=REPO, check=False)


def one_run(fleet: str, extra: list[str]) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        state_dir = str(Path(tmp) / "lab")
        started = time.perf_counter()
        up = bcastctl("-o", "json", "lab", "up", "-f", fleet, "--state-dir", state_dir, *extra)
        up_wall = time.perf_counter() - started
        try:
            if up.returncode != 0:
                raise SystemExit(f"lab up failed: {up.stderr}")
            ready = float(json.loads(up.stdout)["result"]["state"]["ready_after_s"])
        finally:
            started = time.perf_counter()
            down = bcastctl("lab", "down", "--state-dir", state_dir)
            down_wall = time.perf_counter() - started
        if down.returncode != 0:
            raise SystemExit(f"lab down failed: {down.stderr}")
        return ready, up_wall, down_wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--fleet", default=str(REPO / "examples" / "lab.yaml"))
    parser.add_argument("--no-nodes", action="store_true")
    args = parser.parse_args()
    extra = ["--no-nodes"] if args.no_nodes else []
    runs = [one_run(args.fleet, extra) for _ in range(args.runs)]
    flags = " --no-nodes" if extra else ""
    print(f"{args.runs} runs of `lab up` on {Path(args.fleet).name}{flags}")
    print("| figure | median | max |")
    print("| --- | --- | --- |")
    for index, name in enumerate(("ready after (reported by up)", "up, whole command", "down")):
        values = [run[index] for run in runs]
        print(f"| {name} | {statistics.median(values):.2f} s | {max(values):.2f} s |")


if __name__ == "__main__":
    main()
