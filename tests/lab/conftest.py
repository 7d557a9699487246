"""One full lab (examples/lab.yaml: 3 regions, 2 nodes each) shared by the lab tests.

Tests that break it heal it before they end; destructive faults use their own labs.
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from labkit import running_lab, write_fleet


@pytest.fixture(scope="session")
def lab_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lab") / "state"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory, lab_dir: Path) -> Iterator[dict[str, Any]]:
    """The `lab up -o json` result of a running lab built from examples/lab.yaml."""
    fleet = write_fleet(tmp_path_factory.mktemp("fleet") / "lab.yaml")
    with running_lab(fleet, lab_dir) as result:
        yield result


# the player page test drives headless Chromium with the node tests' browser_kit
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "node"))


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    """An HTTP session for WHIP/WHEP clients; ICE offers loopback while it is open."""
    from bcastctl.adapters import ice

    ice.offer_only("127.0.0.1")  # the test's own peers sit on loopback too
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
            yield session
    finally:
        ice.restore()
