"""Global options mean the same before or after the subcommand (cobra's persistent flags).

kubectl, cilium and subctl accept `--context`, `-o`, `-v` anywhere on the line; bcastctl's
`--fleet/-f`, `-o/--output`, `-v`, `-q` and `--no-color` do the same, and a value given
after the subcommand wins over one given before it.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bcastctl.cli.main import run

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FLEET = str(EXAMPLES / "fleet.yaml")


def files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def test_render_takes_fleet_and_output_after_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["render", "--fleet", FLEET, "--out", str(tmp_path / "after"), "-o", "json"]) == 0
    after = json.loads(capsys.readouterr().out)
    assert run(["--fleet", FLEET, "-o", "json", "render", "--out", str(tmp_path / "before")]) == 0
    before = json.loads(capsys.readouterr().out)
    assert after["kind"] == before["kind"] == "RenderResult"
    assert files(tmp_path / "after") == files(tmp_path / "before")
    assert (tmp_path / "after" / "resolved").is_dir()


def test_a_value_after_the_command_wins(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = str(tmp_path / "missing.yaml")
    assert run(["-f", missing, "-o", "yaml", "render", "-f", FLEET, "-o", "json",
                "--out", str(tmp_path / "out")]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out)["kind"] == "RenderResult"
    # and the one before still counts when nothing comes after
    assert run(["-f", missing, "render", "--out", str(tmp_path / "out2")]) == 3
    assert "missing.yaml" in capsys.readouterr().err


def test_environment_fleet_is_overridden_by_a_flag_after_the_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BCASTCTL_FLEET", str(tmp_path / "nowhere.yaml"))
    assert run(["render", "-o", "json", "-f", FLEET, "--out", str(tmp_path / "o")]) == 0
    assert json.loads(capsys.readouterr().out)["kind"] == "RenderResult"


def test_global_options_are_accepted_after_nested_commands(tmp_path: Path) -> None:
    """`lab status -q --no-color -v` parses; the missing lab is the error (exit 3), not usage."""
    state = str(tmp_path / "no-lab")
    for argv in (
        ["lab", "status", "--state-dir", state, "-q", "--no-color", "-o", "json"],
        ["lab", "fault", "kill-node", "n1", "--state-dir", state, "-v", "-v"],
        ["-o", "json", "lab", "down", "--state-dir", state, "--no-color"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "bcastctl", *argv], capture_output=True, text=True, timeout=60
        )
        assert done.returncode in (0, 3), (argv, done.stderr)
        assert "No such option" not in done.stderr


def test_help_shows_the_global_options_on_every_command() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bcastctl", "verify", "mesh", "--help"],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "120", "PATH": "/usr/bin"},
    )  # fmt: skip
    section = done.stdout.split("Global options (also accepted before the command):")[1]
    for option in ("--fleet", "--output", "--verbose", "--quiet", "--no-color", "BCASTCTL_FLEET"):
        assert option in section


def test_node_serve_keeps_its_own_fleet_name_option() -> None:
    """On `node serve`, --fleet is the fleet NAME (BCAST_FLEET); the fleet file goes before."""
    env = {"BCAST_CLUSTER_SECRET": "s3cret-value", "PATH": "/usr/bin:/bin", "COLUMNS": "120"}
    done = subprocess.run(
        [sys.executable, "-m", "bcastctl", "node", "serve", "--fleet", "no spaces allowed"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert done.returncode == 3
    assert done.stderr.startswith("error: --fleet=no spaces allowed: use letters")
    done = subprocess.run(
        [sys.executable, "-m", "bcastctl", "node", "serve", "--help"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert "Here --fleet is this command's own option" in " ".join(done.stdout.split())
    assert "-f, --fleet" not in done.stdout


def test_bundle_keeps_f_for_its_archive_and_takes_the_long_global_fleet(tmp_path: Path) -> None:
    """`bundle -f FILE` is the archive (as before); `--fleet` after `bundle` is the fleet file."""
    done = subprocess.run(
        [sys.executable, "-m", "bcastctl", "bundle", "-f", str(tmp_path / "b.tar.gz"),
         "--fleet", str(tmp_path / "no-fleet.yaml"), "--target", "kube"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 3, done.stderr
    assert "no-fleet.yaml" in done.stderr and not (tmp_path / "b.tar.gz").exists()
    done = subprocess.run(
        [sys.executable, "-m", "bcastctl", "bundle", "--help"],
        capture_output=True, text=True, timeout=60, env={"COLUMNS": "120", "PATH": "/usr/bin"},
    )  # fmt: skip
    assert "Here -f is this command's own option" in " ".join(done.stdout.split())


@pytest.mark.parametrize(
    ("before", "after", "level"),
    [
        ([], ["-v"], "INFO"),
        (["-v"], ["-v"], "DEBUG"),
        (["-v"], ["-q"], "ERROR"),
        ([], [], "WARNING"),
    ],
)
def test_verbosity_counts_on_both_sides(
    tmp_path: Path, before: list[str], after: list[str], level: str
) -> None:
    """`-v` before and after the command add up; `-q` anywhere silences progress and logs."""
    import logging

    root = logging.getLogger()
    saved = root.level
    try:
        run([*before, "-f", FLEET, "render", "--out", str(tmp_path / "o"), *after])
        assert logging.getLevelName(root.level) == level
    finally:
        root.setLevel(saved)
