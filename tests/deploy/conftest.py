"""Three fake clusters (shimmed kmock), a kubeconfig with a context each, a fleet file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bcastctl.cli.main import run
from fakes.clusters import ClusterSet, cluster_set
from fakes.fleets import REGIONS, envelope, fleet_document, seed_secrets, write_fleet


@pytest.fixture
def clusters() -> Iterator[ClusterSet]:
    with cluster_set(REGIONS) as running:
        for name in REGIONS:
            seed_secrets(running, name)
        yield running


@pytest.fixture
def kubeconfig(clusters: ClusterSet, tmp_path: Path) -> Path:
    return clusters.write_kubeconfig(tmp_path / "kubeconfig")


@pytest.fixture
def fleet_file(kubeconfig: Path, tmp_path: Path) -> Callable[..., Path]:
    """fleet_file(image=...) writes the 3-region fleet aimed at the fake clusters."""

    def make(**kwargs: Any) -> Path:
        return write_fleet(tmp_path / "fleet.yaml", fleet_document(kubeconfig, **kwargs))

    return make


Cli = Callable[..., tuple[int, Any, str]]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    """cli(*argv) -> (exit code, JSON result or stdout text, stderr).

    Tables are drawn 200 columns wide, as on a wide terminal, whatever runs the test (a
    pytest-xdist worker has no terminal and rich would fall back to 80 columns).
    """
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*argv: str, json_output: bool = True) -> tuple[int, Any, str]:
        args = (["-o", "json"] if json_output else []) + list(argv)
        code = run(args)
        captured = capsys.readouterr()
        out = envelope(captured.out) if json_output and captured.out.strip() else captured.out
        return code, out, captured.err

    return invoke
