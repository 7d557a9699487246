"""Shared test helpers: where the repo and the example fleets are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "examples"


@pytest.fixture
def example_fleet_path() -> Path:
    return EXAMPLES / "fleet.yaml"


@pytest.fixture
def lab_fleet_path() -> Path:
    return EXAMPLES / "lab.yaml"
