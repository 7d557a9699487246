"""`lab fault ...`: rehearse failures on a running lab.

- cut-link A B: both delay links between A and B drop their connections and refuse
  new ones (NATS sees the gateway go down in both directions).
- heal-link A B: both links listen again at their configured latency.
- slow-link A B --ms N: both links now add N ms one way (until healed).
- kill-node NODE / kill-nats REGION: SIGKILL the process group (a crash, no cleanup).
- drain-node NODE: POST /api/drain on the node's admin port (as SIGTERM in a pod does):
  not ready, new sessions placed elsewhere, live ones kept until they end or the drain
  deadline, then the node exits.
- restart-node NODE / restart-nats REGION: start a dead one again, exactly as `up` did,
  and wait until it answers its health endpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from bcastctl.errors import ConfigError, OperationFailed, UnreachableError, UsageError
from bcastctl.lab import procs
from bcastctl.lab.linkctl import link_request
from bcastctl.model import FrozenModel, replace
from bcastctl.targets.lab_state import LabState, load_lab_state, save_lab_state

LinkOp = Literal["cut", "heal", "slow"]


class FaultResult(FrozenModel):
    fault: str
    target: str
    detail: str


def _pair(state: LabState, a: str, b: str) -> list[str]:
    if a == b:
        raise UsageError(f"a link joins two different regions, got {a!r} twice")
    try:
        state.region(a), state.region(b)
        return [state.link(a, b).name, state.link(b, a).name]
    except ConfigError as e:
        raise UsageError(e.message, hint=e.hint) from None


def _with_link_delays(state: LabState, links: list[dict[str, object]]) -> LabState:
    current = {str(link["name"]): float(str(link["one_way_ms"])) for link in links}
    regions = [
        replace(
            region,
            links=[
                replace(link, current_one_way_ms=current.get(link.name, link.current_one_way_ms))
                for link in region.links
            ],
        )
        for region in state.regions
    ]
    return replace(state, regions=regions)


async def link_fault(
    state_dir: Path, op: LinkOp, a: str, b: str, ms: float | None = None
) -> FaultResult:
    state = load_lab_state(state_dir)
    names = _pair(state, a, b)
    request: dict[str, object] = {"op": op, "links": names}
    if op == "slow":
        if ms is None or not 0 <= ms <= 60_000:
            raise UsageError("--ms: one-way latency must be between 0 and 60000 ms")
        request["ms"] = ms
    links = await link_request(state.linkd.control_socket, request)
    save_lab_state(_with_link_delays(state, links))
    detail = {
        "cut": "both directions dropped; new connections refused",
        "heal": "both directions listening at the configured latency "
        + ", ".join(f"{link['name']} {link['one_way_ms']:g} ms" for link in links),
        "slow": f"both directions now add {ms:g} ms one way" if ms is not None else "",
    }[op]
    return FaultResult(fault=f"{op}-link", target=f"{a} <-> {b}", detail=detail)


def _kill(pid: int | None, what: str) -> None:
    if pid is None or not procs.is_alive(pid):
        raise OperationFailed(f"{what} is not running", hint="`bcastctl lab status` shows the lab")
    procs.kill_now(pid)
    if not procs.stop_process_group(pid, grace_s=2.0):
        raise OperationFailed(f"{what} (pid {pid}) survived SIGKILL")


def kill_node(state_dir: Path, node: str) -> FaultResult:
    state = load_lab_state(state_dir)
    try:
        target = state.node(node)
    except ConfigError as e:
        raise UsageError(e.message, hint=e.hint) from None
    _kill(target.pid, f"node {node}")
    return FaultResult(fault="kill-node", target=node, detail=f"pid {target.pid} killed (SIGKILL)")


def kill_nats(state_dir: Path, region: str) -> FaultResult:
    state = load_lab_state(state_dir)
    try:
        target = state.region(region)
    except ConfigError as e:
        raise UsageError(e.message, hint=e.hint) from None
    _kill(target.nats_pid, f"NATS server of {region}")
    return FaultResult(
        fault="kill-nats", target=region, detail=f"pid {target.nats_pid} killed (SIGKILL)"
    )


async def drain_node(state_dir: Path, node: str) -> FaultResult:
    import aiohttp

    state = load_lab_state(state_dir)
    try:
        target = state.node(node)
    except ConfigError as e:
        raise UsageError(e.message, hint=e.hint) from None
    if target.pid is None or not procs.is_alive(target.pid):
        raise OperationFailed(f"node {node} is not running", hint="`bcastctl lab status`")
    url = f"{target.admin_url}/api/drain"
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, timeout=aiohttp.ClientTimeout(total=5)) as response,
        ):
            answer = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as e:
        raise UnreachableError(f"{url}: no drain answer ({e!r})") from None
    if response.status != 202 or not isinstance(answer, dict):
        raise OperationFailed(f"{url}: HTTP {response.status}")
    return FaultResult(
        fault="drain-node",
        target=node,
        detail=f"draining: {answer.get('sessions')} sessions kept until they end or "
        f"{answer.get('deadline_s')} s, then the node exits",
    )


async def _wait_healthy(url: str, timeout_s: float, pid: int) -> None:
    import asyncio

    import aiohttp

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline:
            if not procs.is_alive(pid):
                raise OperationFailed(f"restarted process (pid {pid}) exited at once")
            try:
                timeout = aiohttp.ClientTimeout(total=1)
                async with session.get(url, timeout=timeout) as response:
                    if response.status == 200:
                        return
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.1)
    raise OperationFailed(f"restarted, but {url} did not answer within {timeout_s:.0f} s")


def _restart(state: LabState, name: str) -> tuple[LabState, int]:
    from bcastctl.lab.launch import start_process
    from bcastctl.targets.lab_state import load_lab_secrets

    process = next((p for p in state.processes if p.name == name), None)
    if process is None:
        raise UsageError(f"{name} is not a process of this lab")
    if procs.is_alive(process.pid):
        raise OperationFailed(f"{name} is running (pid {process.pid}); nothing to restart")
    if not process.argv:
        raise OperationFailed(f"{name}: this lab's state does not record how to restart it")
    pid = start_process(process, load_lab_secrets(state), state.lab_id, Path(state.state_dir))
    processes = [replace(p, pid=pid) if p.name == name else p for p in state.processes]
    regions = []
    for region in state.regions:
        nodes = [replace(n, pid=pid) if n.name == name else n for n in region.nodes]
        nats_pid = pid if f"nats-{region.name}" == name else region.nats_pid
        regions.append(replace(region, nodes=nodes, nats_pid=nats_pid))
    updated = replace(state, processes=processes, regions=regions)
    save_lab_state(updated)
    return updated, pid


async def restart_node(state_dir: Path, node: str, timeout_s: float = 30.0) -> FaultResult:
    state = load_lab_state(state_dir)
    try:
        target = state.node(node)
    except ConfigError as e:
        raise UsageError(e.message, hint=e.hint) from None
    _, pid = _restart(state, node)
    await _wait_healthy(f"{target.admin_url}/healthz", timeout_s, pid)
    return FaultResult(fault="restart-node", target=node, detail=f"running again as pid {pid}")


async def restart_nats(state_dir: Path, region: str, timeout_s: float = 30.0) -> FaultResult:
    state = load_lab_state(state_dir)
    try:
        target = state.region(region)
    except ConfigError as e:
        raise UsageError(e.message, hint=e.hint) from None
    _, pid = _restart(state, f"nats-{region}")
    await _wait_healthy(f"{target.nats_monitor_url}/healthz", timeout_s, pid)
    return FaultResult(fault="restart-nats", target=region, detail=f"running again as pid {pid}")
