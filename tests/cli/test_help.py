"""`--help` stays fast: lazy commands, no heavy SDK, no rich (nor pathlib, shutil: a tenth of
the cost each); it teaches the exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import click
import pytest

from bcastctl import __version__
from bcastctl.cli.main import app, run

PROBE = """
import json, sys
from bcastctl.cli.main import run
run({argv!r})
roots = {{'kubernetes', 'aiortc', 'nats', 'av', 'aioice', 'rich', 'msgspec', 'yaml', 'pathlib',
         'shutil'}}
heavy = sorted(m for m in sys.modules if m.split('.')[0] in roots or m.startswith('google.cloud'))
commands = sorted(m for m in sys.modules if m.startswith('bcastctl.cli.') and m.count('.') == 2)
print(json.dumps([heavy, commands]))
"""
SHARED = {"bcastctl.cli.base", "bcastctl.cli.context", "bcastctl.cli.main"}


def every_command(group: click.Group, path: tuple[str, ...] = ()) -> list[list[str]]:
    """Every group and command reachable from the root, as argv prefixes."""
    found = [list(path)]
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            found += every_command(command, (*path, name))
        else:
            found.append([*path, name])
    return found


COMMANDS = every_command(app)


def test_every_command_is_covered() -> None:
    names = {" ".join(c) for c in COMMANDS}
    expected = {"render", "verify mesh", "probe rtt", "lab up", "lab fault cut-link", "deploy"}
    expected |= {"rollback", "status", "clusters discover", "dns plan", "node serve"}
    assert expected <= names
    assert len(names) >= 25


@pytest.mark.parametrize("command", COMMANDS, ids=lambda command: " ".join(command) or "bcastctl")
def test_help_imports_no_heavy_library_and_no_other_command(command: list[str]) -> None:
    argv = [*command, "--help"]
    result = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True, text=True, check=True
    )
    assert "Usage: bcastctl" in result.stdout
    heavy, modules = json.loads(result.stdout.strip().splitlines()[-1])
    assert heavy == [], f"`bcastctl {' '.join(argv)}` imported {heavy}"
    if command:  # one command's help loads that command's module and the shared ones only
        assert (
            len(set(modules) - SHARED - {"bcastctl.cli.options", "bcastctl.cli.interaction"}) == 1
        )


def test_help_documents_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--help"]) == 0
    out = capsys.readouterr().out
    assert "Exit codes" in out
    assert "render" in out
    assert "before or after the command" in out


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"bcastctl {__version__}"


def test_unknown_option_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["render", "--bogus"]) == 2
    assert "No such option" in capsys.readouterr().err
