"""Start-up cost of the CLI against a bare interpreter: `--help`, every `<cmd> --help`, `render`.

    .venv/bin/python bench/cli_help.py [--runs 15]

For each command: the median wall time and the median CPU time (user + system of the
child, from wait4: steadier than wall time on a shared machine), and both as a ratio
to `python -c pass`. The targets (issue 14): `bcastctl --help` and `bcastctl <cmd> --help`
within 6x a bare interpreter, `bcastctl render` (the example fleet to a directory)
within 12x. Prints one line per command, then whether each target holds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = [sys.executable]
BCASTCTL = [sys.executable, "-m", "bcastctl"]
HELP_COMMANDS = [
    [],
    ["render"],
    ["verify"],
    ["verify", "mesh"],
    ["probe", "rtt"],
    ["lab"],
    ["lab", "up"],
    ["lab", "fault", "cut-link"],
    ["deploy"],
    ["rollback"],
    ["status"],
    ["clusters", "discover"],
    ["dns", "plan"],
    ["node", "serve"],
]
HELP_LIMIT = 6.0
RENDER_LIMIT = 12.0


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        process = subprocess.Popen(argv, stdout=null, stderr=null, cwd=ROOT)
        _, status, usage = os.wait4(process.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def measure(argv: list[str], runs: int) -> tuple[float, float]:
    timed(argv)  # warm the page cache
    samples = [timed(argv) for _ in range(runs)]
    return statistics.median(s[0] for s in samples), statistics.median(s[1] for s in samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="cli-bench-"))
    commands: dict[str, tuple[list[str], float | None]] = {
        "python -c pass": ([*PY, "-c", "pass"], None)
    }
    for command in HELP_COMMANDS:
        commands[" ".join(["bcastctl", *command, "--help"])] = (
            [*BCASTCTL, *command, "--help"],
            HELP_LIMIT,
        )
    render = [*BCASTCTL, "-f", "examples/fleet.yaml", "render", "--out", str(out / "r")]
    commands["bcastctl render (example fleet)"] = (render, RENDER_LIMIT)
    results = {name: measure(argv, args.runs) for name, (argv, _) in commands.items()}
    bare_wall, bare_cpu = results["python -c pass"]
    print(f"{'command':<40} {'wall ms':>8} {'x bare':>7} {'cpu ms':>8} {'x bare':>7} {'limit':>6}")
    failed = []
    for name, (wall, cpu) in results.items():
        limit = commands[name][1]
        print(
            f"{name:<40} {wall:>8.1f} {wall / bare_wall:>7.1f} {cpu:>8.1f} {cpu / bare_cpu:>7.1f}"
            f" {'' if limit is None else f'{limit:g}x':>6}"
        )
        if limit is not None and cpu / bare_cpu > limit:
            failed.append(name)
    print("targets met (CPU time)" if not failed else f"over target: {', '.join(failed)}")


if __name__ == "__main__":
    main()
