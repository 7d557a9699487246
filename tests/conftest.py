"""Shared test helpers: where the repo and the example fleets are."""

from __future__ import annotations

import itertools
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture
def example_fleet_path() -> Path:
    return EXAMPLES / "fleet.yaml"


@pytest.fixture
def lab_fleet_path() -> Path:
    return EXAMPLES / "lab.yaml"


# --- the fast lane (`bash scripts/test --fast`: pytest -m "not slow" with BCAST_FAST_LANE=1) ---
# It runs what needs no lab, node, NATS server, TURN server, Prometheus or browser. A test that
# starts one of those without the `slow` marker fails here with the reason, instead of quietly
# making the lane slow.

LIVE_PROGRAMS = {"nats-server": "NATS server", "chromium": "browser", "turnserver": "TURN server",
                 "prometheus": "Prometheus"}  # fmt: skip


def live_part(argv: list[str]) -> str | None:
    """What live part `argv` starts (a lab, a server, a browser), or None."""
    program = os.path.basename(argv[0]) if argv else ""
    if program == "nats-server" and "-t" in argv:
        return None  # `nats-server -t` checks a config file and exits: no server
    if program in LIVE_PROGRAMS:
        return LIVE_PROGRAMS[program]
    # a node needs a NATS server (guarded above); `lab up` starts its servers in a child
    return "lab" if ("lab", "up") in set(itertools.pairwise(argv)) else None


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("BCAST_FAST_LANE") != "1":
        return
    start = subprocess.Popen.__init__

    def guarded(self: subprocess.Popen[Any], args: Any, *more: Any, **options: Any) -> None:
        argv = [str(a) for a in args] if isinstance(args, list | tuple) else [str(args)]
        part = live_part(argv)
        if part is not None:
            raise RuntimeError(f"the fast lane starts no {part} ({argv[0]}): mark the test slow")
        start(self, args, *more, **options)

    subprocess.Popen.__init__ = guarded  # type: ignore[method-assign]
