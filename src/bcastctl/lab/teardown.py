"""`lab down`: stop exactly the processes the lab started, then prove nothing is left.

Every process group recorded in the state file gets SIGTERM, then SIGKILL after a
grace period; then no recorded pid may be alive and no recorded address:port may
still be bound. Logs stay in the state dir; secrets and configs holding them go.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from bcastctl.errors import OperationFailed
from bcastctl.lab import addresses, procs
from bcastctl.model import FrozenModel
from bcastctl.targets.lab_state import LAB_ID_ENV, LabState, load_lab_state, state_file

PORT_RELEASE_S = 5.0


class LabDownResult(FrozenModel):
    state_dir: str
    was_running: bool
    stopped: list[str]  # "name (pid N)"
    endpoints_checked: int


def _read_state(state_dir: Path) -> LabState | None:
    if not state_file(state_dir).exists():
        return None
    return load_lab_state(state_dir)


def find_running(state_dir: Path) -> LabState | None:
    """The lab in `state_dir` if any of its processes still runs."""
    state = _read_state(state_dir)
    if state is None:
        return None
    return state if _live_pids(state) else None


def _live_pids(state: LabState) -> list[int]:
    """Recorded pids still alive, plus any process tagged with this lab's id."""
    live = [pid for pid in state.pids() if procs.is_alive(pid)]
    if state.lab_id:
        live += [pid for pid in procs.tagged_processes(LAB_ID_ENV, state.lab_id) if pid not in live]
    return live


def _parse_endpoint(endpoint: str) -> tuple[procs.Transport, str, int]:
    transport, host, port = endpoint.split(":")
    if transport not in ("tcp", "udp"):
        raise ValueError(f"bad endpoint {endpoint!r}")
    return ("tcp" if transport == "tcp" else "udp"), host, int(port)


def stop_lab_processes(state: LabState, *, release: bool) -> tuple[list[int], list[str]]:
    """Stop every recorded process group; return (surviving pids, still-bound endpoints)."""
    # The monitor, then nodes (they hold NATS connections), then TURN, NATS, links, DNS.
    order = {"monitor": -1, "node": 0, "turn": 1, "nats": 2, "linkd": 3, "dns": 4}
    ordered = sorted(state.processes, key=lambda p: order.get(p.role, 5))
    pids = [process.pid for process in ordered]
    pids += [pid for pid in _live_pids(state) if pid not in pids]  # started, never recorded
    survivors = procs.stop_all(pids)
    endpoints = [_parse_endpoint(endpoint) for endpoint in state.endpoints]
    busy = procs.wait_ports_free(endpoints, PORT_RELEASE_S) if not survivors else []
    state_dir = Path(state.state_dir)
    if release and not survivors:
        addresses.release_prefix(state.loopback_prefix, state_dir)
        remove_generated_files(state_dir, state)
    return survivors, [f"{t}:{h}:{p}" for t, h, p in busy]


def remove_generated_files(state_dir: Path, state: LabState) -> None:
    """State, secrets and configs of a stopped lab (logs stay for post-mortems)."""
    for name in ("secrets.json", "turnserver.conf", "turnserver.pid", "turndb.sqlite"):
        (state_dir / name).unlink(missing_ok=True)
    for config in state_dir.glob("nats-*.conf"):
        config.unlink()
    Path(state.linkd.control_socket).unlink(missing_ok=True)
    shutil.rmtree(state_dir / "tmp", ignore_errors=True)
    state_file(state_dir).unlink(missing_ok=True)


def lab_down(state_dir: Path) -> LabDownResult:
    state = _read_state(state_dir)
    if state is None:
        return LabDownResult(
            state_dir=str(state_dir), was_running=False, stopped=[], endpoints_checked=0
        )
    was_running = bool(_live_pids(state))
    survivors, busy = stop_lab_processes(state, release=True)
    if survivors:
        raise OperationFailed(
            f"lab down: processes still running after SIGKILL: {survivors}",
            hint="they may belong to another user; check `ps -o pid,pgid,cmd -p PID`",
        )
    if busy:
        raise OperationFailed(
            f"lab down: processes stopped but still bound after {PORT_RELEASE_S:.0f} s: "
            f"{', '.join(busy)}",
            hint="another program holds these; the lab's own processes are gone",
        )
    return LabDownResult(
        state_dir=state.state_dir,
        was_running=was_running,
        stopped=[f"{p.name} (pid {p.pid})" for p in state.processes],
        endpoints_checked=len(state.endpoints),
    )
