"""Deploy wall time for 3, 6 and 12 regions, sequential vs --parallel, and API calls per region.

Each region is its own fake cluster (a shimmed kmock instance on loopback, as in the
tests), hosted by a child process so that the fake servers do not share the GIL with
bcastctl. `--api-latency-ms` delays every answer like a remote API server. Per size and
mode: a first deploy on fresh clusters, then a re-run with nothing changed. The kube gate
(kube-* checks) runs after every region. API calls per region are bcastctl's own count
(DeployResult.regions[].api_calls); writes are counted on the fake servers' request logs.

    .venv/bin/python bench/deploy_scale.py [--sizes 3,6,12] [--api-latency-ms 0] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent / "tests"
GATE = ("^kube-",)
WRITES = ("POST", "PUT", "PATCH", "DELETE")


def region_names(count: int) -> list[str]:
    return [f"region-{index:02d}" for index in range(count)]


def serve(count: int, latency_ms: float, kubeconfig: Path) -> None:
    """Child: run the fake clusters until stdin closes; "count" prints writes per cluster."""
    sys.path.insert(0, str(TESTS))
    from fakes.clusters import cluster_set
    from fakes.fleets import seed_secrets

    names = region_names(count)
    with cluster_set(names) as clusters:
        for name in names:
            seed_secrets(clusters, name)
            clusters.call(
                lambda n=name: clusters.clusters[n].delays.update({"/": latency_ms / 1000})
            )
        clusters.write_kubeconfig(kubeconfig)
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() == "count":
                writes = {n: len(clusters.writes(n, include_dry_run=False)) for n in names}
                print(json.dumps(writes), flush=True)


def one_run(count: int, parallel: bool, latency_ms: float) -> dict[str, float]:
    sys.path.insert(0, str(TESTS))
    from bcastctl.deploy.rollout import DeployOptions, deploy
    from bcastctl.fleet import parse_fleet
    from fakes.fleets import fleet_document

    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kc"
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--serve",
                str(count),
                "--api-latency-ms",
                str(latency_ms),
                "--kubeconfig",
                str(kubeconfig),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdin is not None and child.stdout is not None
        try:
            assert child.stdout.readline().strip() == "ready"
            fleet = parse_fleet(fleet_document(kubeconfig, regions=region_names(count)))
            options = DeployOptions(parallel=parallel, gate_checks=GATE)

            def writes() -> dict[str, int]:
                child.stdin.write("count\n")  # type: ignore[union-attr]
                child.stdin.flush()  # type: ignore[union-attr]
                return dict(json.loads(child.stdout.readline()))  # type: ignore[union-attr]

            started = time.perf_counter()
            first = asyncio.run(deploy(fleet, options))
            first_s = time.perf_counter() - started
            assert first.exit_code == 0, first
            writes_first = writes()
            started = time.perf_counter()
            rerun = asyncio.run(deploy(fleet, options))
            rerun_s = time.perf_counter() - started
            assert {r.state for r in rerun.regions} == {"unchanged"}
            writes_rerun = {k: v - writes_first[k] for k, v in writes().items()}
        finally:
            child.stdin.close()
            child.wait(timeout=30)
    return {
        "first_s": first_s,
        "rerun_s": rerun_s,
        "calls_first": sum(r.api_calls for r in first.regions) / count,
        "writes_first": sum(writes_first.values()) / count,
        "calls_rerun": sum(r.api_calls for r in rerun.regions) / count,
        "writes_rerun": sum(writes_rerun.values()) / count,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="3,6,12")
    parser.add_argument("--api-latency-ms", type=float, default=0.0)
    parser.add_argument("--runs", type=int, default=3, help="median of this many runs")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--kubeconfig", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.api_latency_ms, args.kubeconfig)
        return
    one_run(1, False, 0.0)  # warm-up: imports (kubernetes client, checks) are not deploy time
    print(f"API latency added: {args.api_latency_ms:g} ms per request")
    print(
        "| regions | mode | first deploy s | re-run (unchanged) s | API calls/region (first) "
        "| writes/region (first) | API calls/region (re-run) | writes/region (re-run) |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for count in [int(s) for s in args.sizes.split(",")]:
        for parallel in (False, True):
            runs = [one_run(count, parallel, args.api_latency_ms) for _ in range(args.runs)]
            run = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
            mode = "parallel" if parallel else "sequential"
            print(
                f"| {count} | {mode} | {run['first_s']:.2f} | {run['rerun_s']:.2f} | "
                f"{run['calls_first']:.0f} | {run['writes_first']:.0f} | "
                f"{run['calls_rerun']:.0f} | {run['writes_rerun']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
