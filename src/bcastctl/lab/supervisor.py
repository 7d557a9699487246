"""`lab up`: start the whole fleet on this machine and wait until it is really ready.

Order: DNS server, link daemon, one NATS server per region, coturn (when
installed), then the nodes. The state file is rewritten after every process
starts, so `lab down` can always stop a half-started lab; if `up` fails, it stops
everything it started before raising.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

from bcastctl.errors import OperationFailed, UnreachableError
from bcastctl.fleet import Fleet
from bcastctl.lab import addresses, binaries, readiness, turn
from bcastctl.lab.launch import Launch
from bcastctl.lab.linkctl import link_request
from bcastctl.lab.pods import ProcessSpec
from bcastctl.lab.teardown import find_running, stop_lab_processes
from bcastctl.lab.workloads import lab_processes, lab_zone, load_objects
from bcastctl.model import FrozenModel, Secret
from bcastctl.readers.source import UrlSource
from bcastctl.targets.lab_state import LabSecrets, LabState, save_lab_state, write_lab_secrets

Progress = Callable[[str], None]


class LabUpResult(FrozenModel):
    state: LabState
    already_running: bool
    skipped_prefixes: list[str] = []


def new_lab_secrets(refs: set[str]) -> LabSecrets:
    """A fresh value for every Secret reference ("name/key") the rendered objects make."""
    # nats-server parses an environment variable's value as config syntax: a leading
    # digit or '-' makes it a number; a letter then hex is always a string.
    return LabSecrets(values={ref: Secret("s" + secrets.token_hex(24)) for ref in sorted(refs)})


async def lab_up(
    fleet: Fleet,
    fleet_path: Path,
    state_dir: Path,
    *,
    with_nodes: bool = True,
    with_monitor: bool = False,
    timeout_s: float = 60.0,
    progress: Progress = lambda _: None,
    rendered_dir: Path | None = None,
) -> LabUpResult:
    """Start the lab from what render ships for `fleet` (or from `rendered_dir`) in `state_dir`.

    A running lab there is left unchanged.
    """
    running, launch, skipped = _prepare(
        fleet, fleet_path, state_dir, with_nodes, progress, rendered_dir
    )
    if running is not None:
        return LabUpResult(state=running, already_running=True)
    assert launch is not None
    started = time.monotonic()
    try:
        await _start_and_wait(launch, timeout_s, progress)
        if with_monitor:
            progress(f"monitor: http://{_start_monitor(launch)}/metrics")
    except BaseException:
        progress("lab did not come up; stopping what was started")
        stop_lab_processes(launch.snapshot(), release=True)
        raise
    state = launch.snapshot(ready_after_s=round(time.monotonic() - started, 2))
    save_lab_state(state)
    return LabUpResult(state=state, already_running=False, skipped_prefixes=skipped)


def _prepare(
    fleet: Fleet,
    fleet_path: Path,
    state_dir: Path,
    with_nodes: bool,
    progress: Progress,
    rendered_dir: Path | None,
) -> tuple[LabState | None, Launch | None, list[str]]:
    """A running lab in state_dir, or a new Launch with its prefix claimed and secrets written."""
    state_dir = state_dir.resolve()
    running = find_running(state_dir)
    if running is not None:
        return running, None, []
    objects, shapes = load_objects(fleet, rendered_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(state_dir, 0o700)
    auth, turn_off = turn.rendered_turn_auth(objects[0])
    if auth is not None and binaries.turnserver_binary() is None:
        auth, turn_off = None, turn.NOT_INSTALLED
    plan, skipped = addresses.choose_plan(
        fleet, shapes, state_dir, with_nodes=with_nodes, with_turn=auth is not None
    )
    if skipped:
        progress(f"loopback prefix {plan.prefix} (skipped: {'; '.join(skipped)})")
    refs = set().union(*(region.secret_refs() for region in objects))
    launch = Launch(
        fleet,
        fleet_path,
        state_dir,
        plan,
        new_lab_secrets(refs),
        with_nodes,
        objects=objects,
        turn_auth=auth,
        turn_off_reason=turn_off,
        rendered_from=str(rendered_dir.resolve()) if rendered_dir else "fleet",
    )
    write_lab_secrets(launch.secrets_file, launch.secrets)
    save_lab_state(launch.snapshot())  # the lab id is on disk before any process starts
    return None, launch, skipped


async def _start_and_wait(launch: Launch, timeout_s: float, progress: Progress) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s

    def left() -> float:
        return max(0.5, deadline - loop.time())

    processes = lab_processes(launch)  # every config written before anything starts
    _start_dns(launch)
    _start_linkd(launch)
    for region in launch.plan.regions:
        launch.spawn("nats", f"nats-{region.name}", processes.nats[region.name])
    _start_turn(launch)
    progress(f"started DNS, link daemon, {len(launch.plan.regions)} NATS servers")
    await _wait_infrastructure(launch, left())
    if launch.with_nodes:
        for name, spec in processes.nodes:
            launch.spawn("node", name, spec)
        progress(f"started {sum(len(r.nodes) for r in launch.plan.regions)} nodes")
    state = launch.snapshot()
    await _wait_for(
        launch, "NATS gateways", lambda s: readiness.nats_gaps(s, state.regions), left()
    )
    progress("NATS super-cluster: every gateway connected both ways, its RTT measured")
    if launch.with_nodes:
        await _wait_for(launch, "nodes", lambda s: readiness.node_gaps(s, state.nodes), left())
        progress("nodes: every node ready and sees every other node")


async def _wait_for(
    launch: Launch,
    what: str,
    gaps: Callable[[aiohttp.ClientSession], object],
    timeout_s: float,
) -> None:
    async with aiohttp.ClientSession() as session:
        try:
            await readiness.wait_until(
                what, lambda: gaps(session), timeout_s, alive=launch.first_death
            )
        except (TimeoutError, RuntimeError) as e:
            raise OperationFailed(
                f"lab up: {e}", hint=f"logs are in {launch.state_dir}/logs"
            ) from e


async def _wait_infrastructure(launch: Launch, timeout_s: float) -> None:
    plan = launch.plan
    probe_name = f"{plan.regions[0].name}-nats-gateway.{launch.fleet.namespace}.svc.cluster.local"

    async def gaps(session: aiohttp.ClientSession) -> list[str]:
        missing = []
        if not await asyncio.to_thread(
            readiness.dns_answers, plan.dns_host, plan.dns_port, probe_name
        ):
            missing.append("DNS server")
        try:
            links = await link_request(launch.control_socket, {"op": "status"}, 1.0)
            missing += [link["name"] for link in links if not link["listening"]]
        except Exception:
            missing.append("link daemon")
        for region in launch.snapshot().regions:
            try:
                await UrlSource(session, region.nats_monitor_url, 1.0).get_json("/healthz")
            except UnreachableError:
                missing.append(f"NATS {region.name}")
        return missing

    await _wait_for(launch, "lab infrastructure", gaps, timeout_s)


def _python_module(module: str) -> list[str]:
    return [sys.executable, "-m", module]


def _start_dns(launch: Launch) -> None:
    plan = launch.plan
    zone_file = launch.state_dir / "zone.json"
    zone = lab_zone(plan, launch.objects, launch.fleet.namespace, with_nodes=launch.with_nodes)
    zone_file.write_text(json.dumps(zone, indent=2, sort_keys=True))
    argv = _python_module("bcastctl.lab.dnsd")
    argv += ["--zone", str(zone_file), "--listen", f"{plan.dns_host}:{plan.dns_port}"]
    launch.spawn("dns", "dns", ProcessSpec(argv))


def _start_linkd(launch: Launch) -> None:
    # A link admits only its own region's gateway by reading the NATS CONNECT line; with
    # gateway TLS (fleet.nats.gateway_tls) that line is encrypted, so the link admits any
    # dialler and mutual TLS with the lab CA is what authenticates the gateway.
    tls = launch.fleet.nats.gateway_tls is not None
    links = [
        {
            "name": f"{link.from_region}->{link.to_region}",
            "listen_host": link.listen_host,
            "listen_port": link.listen_port,
            "target_host": link.target_host,
            "target_port": link.target_port,
            "one_way_ms": link.one_way_ms,
            "gateway_from": None if tls else link.from_region,
        }
        for region in launch.plan.regions
        for link in region.links
    ]
    config = launch.state_dir / "links.json"
    config.write_text(json.dumps({"links": links}, indent=2))
    argv = _python_module("bcastctl.lab.linkd")
    argv += ["--config", str(config), "--control", launch.control_socket]
    launch.spawn("linkd", "linkd", ProcessSpec(argv))


def _start_turn(launch: Launch) -> None:
    binary = binaries.turnserver_binary()
    if binary is None or launch.turn_auth is None:
        return
    config = turn.write_turn_config(
        launch.plan,
        launch.state_dir,
        secret=launch.secrets.get(launch.turn_auth.secret_ref),
        realm=launch.turn_auth.realm,
    )
    launch.spawn("turn", "turn", ProcessSpec([str(binary), "-c", str(config)]))


def _start_monitor(launch: Launch) -> str:
    """`bcastctl monitor` on this lab, listening on the lab's own DNS address; stopped by down."""
    listen = f"{launch.plan.dns_host}:{launch.fleet.monitor.port}"
    argv = [sys.executable, "-m", "bcastctl", "monitor", "--target", "lab", "--state-dir",
            str(launch.state_dir), "--interval", f"{launch.fleet.monitor.interval_s:g}s",
            "--listen", listen]  # fmt: skip
    launch.spawn("monitor", "monitor", ProcessSpec(argv))
    return listen
