"""`--help` stays fast: it must not import the heavy SDKs, and it teaches the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bcastctl import __version__
from bcastctl.cli.main import run

HEAVY = ("kubernetes", "google.cloud", "aiortc", "nats", "av", "aioice")

PROBE = """
import json, sys
from bcastctl.cli.main import run
run({argv!r})
roots = {{'kubernetes', 'aiortc', 'nats', 'av', 'aioice'}}
heavy = sorted(m for m in sys.modules if m.split('.')[0] in roots or m.startswith('google.cloud'))
print(json.dumps(heavy))
"""


COMMANDS = [
    [],
    ["render"],
    ["lab"],
    ["lab", "up"],
    ["lab", "fault"],
    ["verify", "mesh"],
    ["probe", "rtt"],
    ["deploy"],
    ["rollback"],
    ["status"],
    ["clusters", "discover"],
    ["dns", "plan"],
    ["node", "serve"],
]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "bcastctl")
def test_help_imports_no_heavy_library(command: list[str]) -> None:
    argv = [*command, "--help"]
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True
    )
    assert "Usage: bcastctl" in result.stdout
    imported = json.loads(result.stdout.strip().splitlines()[-1])
    assert imported == [], f"`bcastctl {' '.join(argv)}` imported {imported}"


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Exit codes" in out
    assert "render" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"bcastctl {__version__}"


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["render", "--bogus"]) == 2
    assert "No such option" in capsys.readouterr().err
