"""One duration type on every option that takes a time: `500ms`, `10s`, `2m`, `1h`, bare seconds."""

from __future__ import annotations

import click
import pytest

from bcastctl.cli.main import app, run
from bcastctl.cli.options import Duration, parse_duration
from bcastctl.errors import UsageError

TIME_WORDS = ("timeout", "wait", "interval", "deadline", "delay", "rtt")


def all_commands(group: click.Group, path: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        if isinstance(command, click.Group):
            found += all_commands(command, f"{path}{name} ")
        else:
            found.append((f"{path}{name}", command))
    return found


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("10s", 10.0),
        ("2m", 120.0),
        ("500ms", 0.5),
        ("1h", 3600.0),
        ("1.5", 1.5),
        (" 3 s ", 3.0),
        (".5s", 0.5),
        ("0", 0.0),
    ],
)
def test_forms(text: str, seconds: float) -> None:
    assert parse_duration(text, "--timeout") == seconds


@pytest.mark.parametrize("text", ["soon", "-1s", "10x", "1e3", "", "5 m s"])
def test_bad_forms_name_the_option(text: str) -> None:
    with pytest.raises(UsageError, match=r"^--wait .*expected a duration such as 10s"):
        parse_duration(text, "--wait")


def test_every_time_option_takes_a_duration() -> None:
    """A time option of any command is a Duration; node serve's time settings take the same
    syntax through their declaration (node/setting.duration), shown as DURATION."""
    seen = []
    for name, command in all_commands(app):
        for param in command.params:
            if not any(word in (param.name or "") for word in TIME_WORDS):
                continue
            if name == "node serve":
                assert isinstance(param, click.Option) and param.metavar == "DURATION", param.opts
            else:
                assert isinstance(param.type, Duration), f"{name} {param.opts}"
            seen.append(f"{name} {param.opts[0]}")
    assert {"verify mesh --timeout", "verify mesh --wait", "deploy --timeout", "deploy --gate-wait",
            "rollback --timeout", "lab up --timeout", "probe rtt --interval",
            "probe rtt --max-rtt", "lab fault slow-link --ms", "node serve --drain-deadline",
            "node serve --peer-timeout", "monitor --interval",
            "deploy --poll-interval"} <= set(seen)  # fmt: skip


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "mesh", "--timeout", "soon"], "--timeout 'soon': expected a duration"),
        (["verify", "mesh", "--timeout", "0s"], "--timeout '0s': must be more than 0"),
        (["deploy", "--gate-wait", "2 weeks"], "--gate-wait '2 weeks': expected a duration"),
        (["rollback", "-r", "a", "--timeout", "x"], "--timeout 'x': expected a duration"),
        (["deploy", "--poll-interval", "10ms"], "--poll-interval '10ms': must be at least 0.05s"),
        (["lab", "up", "--timeout", "500ms"], "--timeout '500ms': must be at least 1s"),
        (["probe", "rtt", "--interval", "fast"], "--interval 'fast': expected a duration"),
        (["lab", "fault", "slow-link", "a", "b", "--ms", "-5ms"], "--ms '-5ms'"),
    ],
)
def test_a_bad_duration_is_one_line_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {message}"), err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_milliseconds_options_keep_bare_numbers_as_milliseconds() -> None:
    """`probe rtt --max-rtt 65` has always meant 65 ms; it still does (and `65ms` too)."""
    (rtt,) = [c for n, c in all_commands(app) if n == "probe rtt"]
    max_rtt = next(p for p in rtt.params if p.name == "max_rtt")
    assert max_rtt.type.convert("65", max_rtt, None) == pytest.approx(0.065)
    assert max_rtt.type.convert("65ms", max_rtt, None) == pytest.approx(0.065)
    assert max_rtt.type.convert("1s", max_rtt, None) == 1.0
