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


@pytest.mark.parametrize(
    "argv",
    [["--help"], ["render", "--help"]]
    + [[group, "--help"] for group in ("lab", "verify", "probe", "deploy", "node")],
    ids=lambda argv: " ".join(argv),
)
def test_help_imports_no_heavy_library(argv: list[str]) -> None:
    registered = subprocess.run(
        [
            sys.executable,
            "-c",
            f"from bcastctl.cli.main import run; raise SystemExit(run({argv!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if registered.returncode != 0 and "No such command" in registered.stderr:
        pytest.skip(f"`{argv[0]}` is not part of this build yet")
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True
    )
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
