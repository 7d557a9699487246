"""Wall time of `bcastctl --help` (and `render --help`) against a bare interpreter.

    .venv/bin/python bench/cli_help.py [--runs 15]

Prints the median and p90 of each, and what the CLI adds over `python -c pass`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "bcastctl --help": [sys.executable, "-m", "bcastctl", "--help"],
    "bcastctl render --help": [sys.executable, "-m", "bcastctl", "render", "--help"],
}


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    for name, argv in COMMANDS.items():
        timed(argv)  # warm the page cache
        results[name] = sorted(timed(argv) for _ in range(args.runs))
    bare = statistics.median(results["python -c pass"])
    print(f"{'command':<26} {'median ms':>10} {'p90 ms':>8} {'over bare':>10}")
    for name, samples in results.items():
        median = statistics.median(samples)
        p90 = samples[int(0.9 * (len(samples) - 1))]
        print(f"{name:<26} {median:>10.1f} {p90:>8.1f} {median - bare:>+10.1f}")


if __name__ == "__main__":
    main()
