"""`bcastctl monitor` CPU and memory on labs of 3 and 9 regions, and `bcastctl bundle` time/size.

    .venv/bin/python bench/monitor_bundle.py [--regions 3,9] [--interval 10] [--window 60]

For each lab size (the labs of bench/probe_rtt.py: 3 regions = examples/lab.yaml with 2
nodes per region; 9 regions with 1 node each): `lab up`; `bcastctl monitor` in its own
process; after its first round, its CPU time (utime + stime from /proc) over `--window`
seconds as a share of one core, its resident memory (VmRSS, and the peak VmHWM), the
last round's duration and the size of one /metrics scrape; then `bcastctl bundle` of the
lab (wall time, archive size, files); `lab down`.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from probe_rtt import REPO, cli, fleet_file

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def memory_mib(pid: int) -> dict[str, float]:
    status = Path(f"/proc/{pid}/status").read_text().splitlines()
    values = {line.split(":")[0]: line.split()[1] for line in status if line.startswith("Vm")}
    return {key: int(values[key]) / 1024 for key in ("VmRSS", "VmHWM")}


def scrape(port: int) -> tuple[str, float]:
    started = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return text, time.perf_counter() - started


def metric(text: str, name: str) -> float:
    return next(
        float(line.split()[-1]) for line in text.splitlines() if line.startswith(name + " ")
    )


def measure_monitor(state: Path, port: int, interval: float, window: float) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCAST")}
    monitor = subprocess.Popen(
        [sys.executable, "-m", "bcastctl", "monitor", "--state-dir", str(state), "--interval",
         f"{interval:g}s", "--listen", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=REPO,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if metric(scrape(port)[0], "bcast_monitor_rounds_total") >= 1:
                    break
            except (OSError, StopIteration):
                pass
            if time.monotonic() > deadline:
                raise SystemExit("monitor never finished a round")
            time.sleep(0.5)
        cpu0, t0 = cpu_seconds(monitor.pid), time.monotonic()
        time.sleep(window)
        cpu1, t1 = cpu_seconds(monitor.pid), time.monotonic()
        text, scrape_s = scrape(port)
        return {
            "cpu_pct": 100 * (cpu1 - cpu0) / (t1 - t0),
            **memory_mib(monitor.pid),
            "round_s": metric(text, "bcast_monitor_round_duration_seconds"),
            "rounds": metric(text, "bcast_monitor_rounds_total"),
            "scrape_kib": len(text.encode()) / 1024,
            "scrape_ms": scrape_s * 1000,
        }
    finally:
        monitor.send_signal(signal.SIGTERM)
        monitor.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", default="3,9")
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--window", type=float, default=60.0)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for regions in (int(n) for n in args.regions.split(",")):
            directory = Path(tmp)
            state = directory / f"state-{regions}"
            up = cli(
                "lab", "up", "-f", str(fleet_file(directory, regions)), "--state-dir", str(state)
            )
            if up.returncode != 0:
                raise SystemExit(f"lab up failed: {up.stderr}")
            try:
                seen = measure_monitor(state, 19100 + regions, args.interval, args.window)
                out = directory / f"bundle-{regions}.tar.gz"
                done = cli("-o", "json", "bundle", "--state-dir", str(state), "-f", str(out))
                if done.returncode != 0:
                    raise SystemExit(f"bundle failed: {done.stderr}")
                bundle = json.loads(done.stdout)["result"]
            finally:
                cli("lab", "down", "--state-dir", str(state))
            rows.append((regions, seen, bundle))
    print(f"monitor every {args.interval:g} s, CPU over {args.window:g} s after its first round")
    print("| regions | monitor CPU % of a core | RSS MiB | peak RSS MiB | round s | /metrics KiB "
          "| bundle s | bundle KiB | bundle files |")  # fmt: skip
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for regions, seen, bundle in rows:
        print(f"| {regions} | {seen['cpu_pct']:.1f} | {seen['VmRSS']:.0f} | {seen['VmHWM']:.0f} "
              f"| {seen['round_s']:.2f} | {seen['scrape_kib']:.0f} | {bundle['duration_s']:.1f} "
              f"| {bundle['size_bytes'] / 1024:.0f} | {bundle['files']} |")  # fmt: skip


if __name__ == "__main__":
    main()
