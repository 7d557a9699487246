"""Starting and stopping the lab's processes, by pid, and checking what they left bound.

Every lab process runs in its own session (so its process group id is its pid)
with stdout/stderr going to a log file in the state dir, and secrets only in
its environment. `stop_process_group` ends exactly that group.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Transport = Literal["tcp", "udp"]


@dataclass(frozen=True)
class Started:
    pid: int
    log_file: Path


def spawn(argv: list[str], *, env: dict[str, str], log_file: Path, cwd: Path) -> Started:
    """Start `argv` detached in a new session; secrets belong in `env`, never in argv."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,
            close_fds=True,
        )
    return Started(pid=process.pid, log_file=log_file)


def _proc_state(pid: int) -> str | None:
    """The one-letter state from /proc/<pid>/stat, or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def _reap(pid: int) -> None:
    """Collect a zombie if it is our own child (when `up` ran in this process)."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def is_alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    state = _proc_state(pid)
    if state in ("Z", "X"):
        _reap(pid)
        return False
    return state is not None


def exit_description(pid: int) -> str:
    """How a child of ours ended, if we can tell (for error messages)."""
    try:
        waited, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return "exited"
    if waited == 0:
        return "is running"
    if os.WIFSIGNALED(status):
        return f"was killed by signal {os.WTERMSIG(status)}"
    return f"exited with code {os.WEXITSTATUS(status)}"


def _signal_group(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)
    except ProcessLookupError:
        pass
    except PermissionError:  # not our group any more (pid reused): leave it alone
        pass


def group_members(pgid: int) -> list[int]:
    """Live processes whose process group is `pgid` (the process and its children)."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def tagged_processes(env_key: str, env_value: str) -> list[int]:
    """Live processes whose environment has env_key=env_value (ours: same user only)."""
    needle = f"{env_key}={env_value}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and is_alive(int(entry.name)):
            found.append(int(entry.name))
    return found


def stop_process_group(pid: int, *, grace_s: float = 3.0) -> bool:
    """SIGTERM the group led by `pid`, SIGKILL after `grace_s`; True when nothing is left."""
    if not group_members(pid) and not is_alive(pid):
        return True
    _signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline:
        if not is_alive(pid) and not group_members(pid):
            return True
        time.sleep(0.02)
    _signal_group(pid, signal.SIGKILL)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        if not is_alive(pid) and not group_members(pid):
            return True
        time.sleep(0.02)
    return False


def stop_all(pids: list[int], *, grace_s: float = 3.0) -> list[int]:
    """SIGTERM every group at once, SIGKILL what is left after `grace_s`; return survivors."""

    def left() -> list[int]:
        return [pid for pid in pids if is_alive(pid) or group_members(pid)]

    for pid in left():
        _signal_group(pid, signal.SIGTERM)
    for sig, wait_s in ((signal.SIGKILL, grace_s), (None, 2.0)):
        deadline = time.monotonic() + wait_s
        while left() and time.monotonic() < deadline:
            time.sleep(0.02)
        if sig is not None:
            for pid in left():
                _signal_group(pid, sig)
    return left()


def kill_now(pid: int) -> None:
    """SIGKILL one process group at once (a fault: the process dies without cleanup)."""
    _signal_group(pid, signal.SIGKILL)


def port_is_free(transport: Transport, host: str, port: int) -> bool:
    """Can a server bind host:port right now? (SO_REUSEADDR, as servers set it for TCP.)"""
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as probe:
        if transport == "tcp":
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as e:
            if e.errno in (errno.EADDRINUSE, errno.EACCES, errno.EADDRNOTAVAIL):
                return False
            raise
    return True


def wait_ports_free(
    endpoints: list[tuple[Transport, str, int]], timeout_s: float
) -> list[tuple[Transport, str, int]]:
    """Wait until every endpoint is bindable; return the ones still bound at the deadline."""
    deadline = time.monotonic() + timeout_s
    while True:
        busy = [ep for ep in endpoints if not port_is_free(*ep)]
        if not busy or time.monotonic() >= deadline:
            return busy
        time.sleep(0.05)


def log_tail(log_file: str | Path, lines: int = 3) -> str:
    """The last lines of a log, for an error message (logs never contain secrets)."""
    try:
        text = Path(log_file).read_text(errors="replace")
    except OSError:
        return ""
    return " | ".join(line.strip() for line in text.strip().splitlines()[-lines:])
