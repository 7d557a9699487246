"""Recovery times on the lab: node loss, NATS loss and publisher reconnect, over several runs.

    .venv/bin/python bench/failover.py [--runs 5] [--away 2]

One lab (examples/lab.yaml: 3 regions, 2 nodes each, under its own loopback prefix):

- node loss and NATS loss: `--runs` runs of the failover drill (`verify failover`'s core,
  drills/failover.py): per step, each affected viewer's time from the fault until it
  decodes frames again, and the frames it lost;
- publisher reconnect: a publisher in the first region, one decoding viewer in every other
  region; `--runs` times the publisher leaves (DELETE), stays away `--away` seconds and
  publishes again on the region's other node; per viewer, the time from the new publish
  (its 201) until it decodes a frame of the new publisher, and whether it kept its session.

Prints one table (p50 and max over every affected viewer of every run, and the frames
they lost) and JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from probe_rtt import cli, fleet_file

from bcastctl.adapters import ice
from bcastctl.drills.failover import FailoverOptions, run_failover
from bcastctl.drills.outcome import ViewerOutcome
from bcastctl.node.settings import NodeSettings
from bcastctl.targets.lab import LabTarget
from bcastctl.targets.lab_state import lab_whip_token
from bcastctl.whip.client import publish, view
from bcastctl.whip.signalling import HttpSignalling
from bcastctl.whip.synthetic import SyntheticVideo, read_number

STEP_LABELS = {
    "kill-publisher-node": "node loss (the publisher's node)",
    "kill-viewer-node": "node loss (a viewer's node)",
    "kill-region-nats": "NATS loss (a region's server)",
}


async def drill_runs(target: LabTarget, runs: int) -> dict[str, list[ViewerOutcome]]:
    bound = NodeSettings.peer_timeout_s.default + 3.0
    outcomes: dict[str, list[ViewerOutcome]] = {step: [] for step in STEP_LABELS}

    def collect(step: str, seen: list[ViewerOutcome]) -> None:
        outcomes[step] += [o for o in seen if o.affected]

    for run in range(runs):
        options = FailoverOptions(max_recovery_s=bound, on_outcomes=collect)
        report = await run_failover(target, options)
        for result in report.results:
            print(f"run {run + 1}: {result.scope}: {result.message}", file=sys.stderr)
    return outcomes


async def reconnect_runs(target: LabTarget, runs: int, away_s: float) -> list[float]:
    import aiohttp

    regions = [await target.region(name, 5.0) for name in target.region_names]
    home = [n.signalling.url for n in regions[0].nodes if n.signalling]
    token = lab_whip_token(target.state)
    waits: list[float] = []
    ice.offer_only("127.0.0.1")
    async with aiohttp.ClientSession() as http:
        source = SyntheticVideo(320, 180)
        publisher = await publish(HttpSignalling(http, home[0]), "bench", token, source)
        await asyncio.sleep(2.0)  # the registry reaches every region
        frames: list[list[tuple[float, int | None]]] = []
        viewers = []
        for region in regions[1:]:
            seen: list[tuple[float, int | None]] = []
            url = next(n.signalling.url for n in region.nodes if n.signalling)
            viewers.append(
                await view(
                    HttpSignalling(http, url), "bench",
                    on_frame=lambda at, frame, seen=seen: seen.append((at, read_number(frame))),
                )
            )  # fmt: skip
            frames.append(seen)
        await asyncio.sleep(2.0)
        for run in range(runs):
            await publisher.close(token)
            await asyncio.sleep(away_s)
            first = 10_000 + 1000 * run
            node = home[(run + 1) % len(home)]
            source = SyntheticVideo(320, 180, first_number=first)
            publisher = await publish(HttpSignalling(http, node), "bench", token, source)
            published_at = time.monotonic()
            for seen, session in zip(frames, viewers, strict=True):
                deadline = published_at + 10
                while not any(n is not None and n >= first for _, n in seen):
                    if time.monotonic() > deadline:
                        raise SystemExit(f"run {run + 1}: a viewer saw no new frame in 10 s")
                    await asyncio.sleep(0.01)
                back = next(at for at, n in seen if n is not None and n >= first)
                waits.append(back - published_at)
                assert session.pc.connectionState == "connected", "the viewer lost its session"
            print(f"reconnect run {run + 1}: {[round(w, 3) for w in waits[-len(viewers):]]}",
                  file=sys.stderr)  # fmt: skip
        await publisher.close(token)
        for session in viewers:
            await session.close()
    ice.restore()
    return waits


def row(label: str, values: list[float], runs: int, lost: list[int] | None) -> dict[str, Any]:
    return {
        "scenario": label,
        "runs": runs,
        "viewers_measured": len(values),
        "p50_s": round(statistics.median(values), 3) if values else None,
        "max_s": round(max(values), 3) if values else None,
        "frames_lost_p50": statistics.median(lost) if lost else None,
    }


async def main_async(state: Path, runs: int, away_s: float) -> list[dict[str, Any]]:
    target = LabTarget.from_state_dir(state)
    try:
        drills = await drill_runs(target, runs)
        reconnects = await reconnect_runs(target, runs, away_s)
    finally:
        await target.close()
    rows = []
    for step, outcomes in drills.items():
        back = [o.recovery_s for o in outcomes if o.recovery_s is not None]
        lost = [o.frames_lost for o in outcomes]
        rows.append(row(STEP_LABELS[step], back, runs, lost))
    label = f"publisher reconnect ({away_s:g} s away), from its new publish"
    rows.append(row(label, reconnects, runs, None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--away", type=float, default=2.0, help="seconds the publisher is away")
    args = parser.parse_args()
    # stopped from outside: still take the lab down (the finally below)
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        state = directory / "state"
        up = cli("lab", "up", "--fleet", str(fleet_file(directory, 3)), "--state-dir", str(state),
                 "--timeout", "120")  # fmt: skip
        try:
            if up.returncode != 0:
                raise SystemExit(f"lab up failed: {up.stderr}")
            rows = asyncio.run(main_async(state, args.runs, args.away))
        finally:
            cli("lab", "down", "--state-dir", str(state))
    print("| scenario | runs | viewers measured | p50 s | max s | frames lost (p50) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for r in rows:
        cells = [r[k] for k in ("scenario", "runs", "viewers_measured", "p50_s", "max_s")]
        cells.append("—" if r["frames_lost_p50"] is None else r["frames_lost_p50"])
        print("| " + " | ".join(str(c) for c in cells) + " |")
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
