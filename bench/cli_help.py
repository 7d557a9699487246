"""Start-up cost of the CLI against a bare interpreter: `--help`, every `<cmd> --help`, `render`.

    .venv/bin/python bench/cli_help.py [--runs 15]

For each command: the median wall time, the median CPU time (user + system of the
child, from wait4: steadier than wall time on a shared machine) and the least CPU time
of the runs, each as a ratio to the same figure of `python -c pass`.

Targets (issue 14): `bcastctl --help` and every `bcastctl <cmd> --help` within 6x a bare
interpreter, `render` within 12x. The issue's 33x for `render` was this script's
`render --help` line; it is held to the 6x of every `<cmd> --help` here. A real render
of the example fleet (msgspec fleet model, YAML, the report) is printed for information.
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


def every_command() -> list[list[str]]:
    """The root and every command under it (groups too), as argv prefixes."""
    import click

    from bcastctl.cli.main import app

    def walk(group: click.Group, path: list[str]) -> list[list[str]]:
        found = [path]
        context = click.Context(group)
        for name in group.list_commands(context):
            command = group.get_command(context, name)
            if isinstance(command, click.Group):
                found += walk(command, [*path, name])
            elif command is not None:
                found.append([*path, name])
        return found

    return walk(app, [])


HELP_LIMIT = 6.0
RENDER_LIMIT = 12.0


# As an installed bcastctl runs: from compiled bytecode (pip compiles on install; the warm-up
# run writes it here), even where the calling shell sets PYTHONDONTWRITEBYTECODE.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def timed(argv: list[str]) -> tuple[float, float]:
    """(wall ms, CPU ms) of one run."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as null:
        process = subprocess.Popen(argv, stdout=null, stderr=null, cwd=ROOT, env=ENV)
        _, status, usage = os.wait4(process.pid, 0)
    wall = (time.perf_counter() - start) * 1000
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} exited {process.returncode}")
    return wall, (usage.ru_utime + usage.ru_stime) * 1000


def measure(argv: list[str], runs: int) -> tuple[float, float, float]:
    """Median wall ms, median CPU ms, least CPU ms (the run its neighbours disturbed least)."""
    timed(argv)  # warm the page cache
    samples = [timed(argv) for _ in range(runs)]
    cpu = [s[1] for s in samples]
    return statistics.median(s[0] for s in samples), statistics.median(cpu), min(cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    out = Path(tempfile.mkdtemp(prefix="cli-bench-"))
    commands: dict[str, tuple[list[str], float | None]] = {
        "python -c pass": ([*PY, "-c", "pass"], None)
    }
    for command in every_command():
        commands[" ".join(["bcastctl", *command, "--help"])] = (
            [*BCASTCTL, *command, "--help"],
            HELP_LIMIT,
        )
    render = [*BCASTCTL, "-f", "examples/fleet.yaml", "render", "--out", str(out / "r")]
    commands["bcastctl render (example fleet)"] = (render, RENDER_LIMIT)
    results = {name: measure(argv, args.runs) for name, (argv, _) in commands.items()}
    bare_wall, bare_cpu, bare_least = results["python -c pass"]
    print(
        f"{'command':<40} {'wall ms':>8} {'x':>5} {'cpu ms':>7} {'x':>5}"
        f" {'least cpu':>9} {'x':>5} {'limit':>6}"
    )
    failed = []
    for name, (wall, cpu, least) in results.items():
        limit = commands[name][1]
        print(
            f"{name:<40} {wall:>8.1f} {wall / bare_wall:>5.1f} {cpu:>7.1f} {cpu / bare_cpu:>5.1f}"
            f" {least:>9.1f} {least / bare_least:>5.1f} {'' if limit is None else f'{limit:g}x':>6}"
        )
        if limit is not None and cpu / bare_cpu > limit:
            failed.append(name)
    print("targets met (median CPU)" if not failed else f"over target: {', '.join(failed)}")


if __name__ == "__main__":
    main()
