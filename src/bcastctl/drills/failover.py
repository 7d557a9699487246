"""`verify failover` on the lab: break things under a live stream and time the way back.

A numbered synthetic stream is published (ReconnectingPublisher) in the first region and
watched by one ReconnectingViewer per region. Then, one step at a time:

1. kill-publisher-node: SIGKILL the node holding the stream (the publisher publishes
   again elsewhere, as OBS does; viewers follow),
2. kill-viewer-node: SIGKILL a node serving viewers (they re-elect and reconnect),
3. kill-region-nats: SIGKILL the NATS server of a region with viewers, not the
   publisher's if another has some (its nodes are cut off from the stream; its viewers
   move to another region).

Per step, from each viewer's frame arrivals and frame numbers (outcome.py): which viewers
were affected (no frame for `gap_s`), how long until each decoded frames again (from the
fault), the frames lost, and whether one never came back by itself (a manual action: a
reload). After each step the lab is healed (the process restarted, as `lab fault
restart-*` does) and every viewer is playing again before the next step starts.
"""

from __future__ import annotations

import asyncio
import secrets
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bcastctl.checks.base import CheckResult, Value, fail, ok, skip
from bcastctl.checks.report import CheckReport, Summary
from bcastctl.drills import STEPS
from bcastctl.drills.candidates import election_chooser
from bcastctl.drills.outcome import ViewerOutcome, outcome
from bcastctl.errors import ExitCode, OperationFailed, UsageError
from bcastctl.lab import faults
from bcastctl.targets.lab import LabTarget
from bcastctl.targets.lab_state import lab_whip_token
from bcastctl.whip.reconnecting import (
    Candidate,
    ReconnectingPublisher,
    ReconnectingViewer,
    SignallingFor,
)
from bcastctl.whip.signalling import HttpSignalling

if TYPE_CHECKING:
    import aiohttp

CHECK = "failover"
REPORT_KIND = "FailoverReport"


@dataclass(frozen=True)
class FailoverOptions:
    max_recovery_s: float  # every affected viewer decodes again within this long
    settle_s: float = 4.0  # each step is watched at least this long after its fault
    step_timeout_s: float = 30.0  # and at most this long
    gap_s: float = 0.5  # no frame for this long: the viewer was affected
    ready_timeout_s: float = 30.0  # publishing, viewers playing, the lab healed
    steps: tuple[str, ...] = STEPS
    on_step: Callable[[str], None] = lambda text: None  # progress, one line per event
    # each step's per-viewer outcomes, for callers that want more than the report (bench/)
    on_outcomes: Callable[[str, list[ViewerOutcome]], None] = lambda step, outcomes: None

    def validate(self) -> None:
        unknown = [step for step in self.steps if step not in STEPS]
        if unknown:
            raise UsageError(f"--step {unknown[0]}: expected one of {', '.join(STEPS)}")
        if self.max_recovery_s <= 0:
            raise UsageError("--max-recovery: must be more than 0")


@dataclass
class Drill:
    target: LabTarget
    options: FailoverOptions
    signalling_for: SignallingFor
    publisher: ReconnectingPublisher
    viewers: list[ReconnectingViewer]

    @property
    def state_dir(self) -> Path:
        return Path(self.target.state.state_dir)

    def serving(self) -> dict[str, list[str]]:
        """node name -> the viewers it serves now."""
        by_node: dict[str, list[str]] = {}
        for viewer in self.viewers:
            if viewer.node is not None:
                by_node.setdefault(viewer.node.name, []).append(viewer.label)
        return by_node

    async def all_playing(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while True:
            now = time.monotonic()
            late = [v.label for v in self.viewers if not v.frames or now - v.frames[-1][0] > 0.3]
            if not late:
                return
            if now > deadline:
                raise OperationFailed(
                    f"failover drill: viewers {', '.join(late)} not playing after {timeout_s:g} s",
                    hint="`bcastctl verify mesh --media` checks media between regions",
                )
            await asyncio.sleep(0.1)


async def _nodes(target: LabTarget) -> dict[str, list[Candidate]]:
    by_region: dict[str, list[Candidate]] = {}
    for name in target.region_names:
        region = await target.region(name, 5.0)
        by_region[name] = [
            Candidate(node.name, name, node.signalling.url)
            for node in region.nodes
            if node.signalling is not None
        ]
    return by_region


async def _fault_for(drill: Drill, step: str) -> tuple[str, Callable[[], Awaitable[object]]]:
    """What the step breaks now (described) and how to heal it; ValueError: nothing to break."""
    state_dir = drill.state_dir
    holder = drill.publisher.node
    assert holder is not None
    if step == "kill-publisher-node":
        await asyncio.to_thread(faults.kill_node, state_dir, holder.name)
        return f"node {holder.name} (publisher)", lambda: faults.restart_node(
            state_dir, holder.name
        )
    serving = {n: v for n, v in drill.serving().items() if n != holder.name}
    if step == "kill-viewer-node":
        if not serving:
            raise ValueError("every viewer is on the publisher's node")
        node = max(serving, key=lambda n: (len(serving[n]), n))
        await asyncio.to_thread(faults.kill_node, state_dir, node)
        return f"node {node} (viewers {', '.join(serving[node])})", lambda: faults.restart_node(
            state_dir, node
        )
    # a region whose viewers watch from afar; else the publisher's own (it moves too)
    watched = {v.node.region for v in drill.viewers if v.node is not None}
    region = min(watched, key=lambda r: (r == holder.region, r))
    await asyncio.to_thread(faults.kill_nats, state_dir, region)
    return f"NATS of {region}", lambda: faults.restart_nats(state_dir, region)


def _result(step: str, what: str, outcomes: list[ViewerOutcome], bound_s: float) -> CheckResult:
    affected = [o for o in outcomes if o.affected]
    stuck = [o.viewer for o in affected if o.recovery_s is None]
    times = [o.recovery_s for o in affected if o.recovery_s is not None]
    lost = sum(o.frames_lost for o in affected)
    p50 = round(statistics.median(times), 3) if times else None
    worst = round(max(times), 3) if times else None
    manual = f"reload {', '.join(stuck)}" if stuck else "none"
    values: dict[str, Value] = {
        "fault": what,
        "viewers": len(outcomes),
        "affected": len(affected),
        "recovery_p50_s": p50,
        "recovery_max_s": worst,
        "frames_lost": lost,
        "manual_action": manual,
        "moves": [o.describe() for o in affected],
    }
    message = f"{what}: {len(affected)}/{len(outcomes)} viewers affected"
    if times:
        message += f"; decoding again after p50 {p50:g} s, max {worst:g} s; {lost} frames lost"
    message += f"; manual action: {manual}"
    late = [o.viewer for o in affected if o.recovery_s is not None and o.recovery_s > bound_s]
    if stuck or late:
        return fail(
            CHECK,
            step,
            message,
            hint=f"bound --max-recovery {bound_s:g} s; late: {', '.join(stuck + late)}",
            kind="fleet",
            values=values,
        )
    return ok(CHECK, step, message, kind="fleet", values=values)


async def _step(drill: Drill, step: str) -> CheckResult:
    options = drill.options
    await drill.all_playing(options.ready_timeout_s)
    fault_at = time.monotonic()
    try:
        what, heal = await _fault_for(drill, step)
    except ValueError as e:
        return skip(CHECK, step, f"nothing to break: {e}", kind="fleet")
    options.on_step(f"{step}: {what} killed; watching the viewers")
    while True:
        await asyncio.sleep(0.1)
        now = time.monotonic()
        outcomes = [
            outcome(v.label, v.frames, v.moves, fault_at, now, options.gap_s) for v in drill.viewers
        ]
        settled = now - fault_at >= options.settle_s and all(o.playing for o in outcomes)
        if settled or now - fault_at > options.step_timeout_s:
            break
    options.on_outcomes(step, outcomes)
    options.on_step(f"{step}: healing {what}")
    await heal()
    return _result(step, what, outcomes, options.max_recovery_s)


async def _start(target: LabTarget, options: FailoverOptions, http: aiohttp.ClientSession) -> Drill:
    def signalling_for(url: str) -> HttpSignalling:
        return HttpSignalling(http, url)

    nodes = await _nodes(target)
    regions = [name for name in target.region_names if nodes.get(name)]
    if len(regions) < 2 or sum(len(n) for n in nodes.values()) < 3:
        raise UsageError(
            "verify failover needs 2 regions and 3 running nodes",
            hint="`bcastctl lab status`; more `replicas` in the lab fleet",
        )
    seeds = [c.url for name in regions for c in nodes[name]]
    stream = f"failover-{secrets.token_hex(3)}"
    home = regions[0]
    publisher = ReconnectingPublisher(
        stream,
        lab_whip_token(target.state),
        election_chooser(signalling_for, seeds, home=home),
        signalling_for,
    )
    try:
        await publisher.start(nodes[home], timeout_s=options.ready_timeout_s)
    except TimeoutError:
        await publisher.stop()
        raise OperationFailed(
            f"failover drill: could not publish {stream} in {home} within "
            f"{options.ready_timeout_s:g} s",
            hint="`bcastctl verify mesh --media` checks publishing",
        ) from None
    viewers = []
    for name in regions:
        # on loopback every region is as near as another: each viewer's own region stands
        # in for the nearest one (it comes first while a node of it answers)
        chooser = election_chooser(signalling_for, seeds, home=name)
        viewer = ReconnectingViewer(f"viewer-{name}", stream, chooser, signalling_for)
        viewer.start(list(reversed(nodes[name])))  # not the publisher's node where there are two
        viewers.append(viewer)
    return Drill(target, options, signalling_for, publisher, viewers)


async def run_failover_on(target: LabTarget, options: FailoverOptions) -> CheckReport:
    """run_failover, then close the target (the CLI's one call)."""
    try:
        return await run_failover(target, options)
    finally:
        await target.close()


async def run_failover(target: LabTarget, options: FailoverOptions) -> CheckReport:
    """Every step in order; the report has one result per step."""
    import aiohttp

    options.validate()
    started = time.monotonic()
    results: list[CheckResult] = []
    async with aiohttp.ClientSession() as http:
        drill = await _start(target, options, http)
        publisher = drill.publisher
        where = publisher.node.name if publisher.node else "?"
        options.on_step(f"publishing {publisher.stream} on {where}; {len(drill.viewers)} viewers")
        try:
            for step in options.steps:
                results.append(await _step(drill, step))
        finally:
            for viewer in drill.viewers:
                await viewer.stop()
            await drill.publisher.stop()
    summary = Summary.of(results)
    return CheckReport(
        target="lab",
        fleet=target.fleet.name,
        regions=list(target.region_names),
        unreachable_regions={},
        checks=[CHECK],
        results=results,
        root_causes=[],
        summary=summary,
        strict=False,
        attempts=1,
        duration_s=round(time.monotonic() - started, 3),
        exit_code=int(ExitCode.CHECKS_FAILED if summary.fail else ExitCode.OK),
    )
