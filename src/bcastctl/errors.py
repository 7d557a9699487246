"""The BcastError tree and the documented exit codes.

Every error a user can cause or meet carries an exit code and, where we know one,
a hint. The CLI boundary (cli/main.py) turns them into one line on stderr.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECKS_FAILED = 1
    USAGE = 2
    CONFIG = 3
    UNREACHABLE = 4
    INTERNAL = 70


class BcastError(Exception):
    """Base of every error bcastctl reports to a user."""

    exit_code: ExitCode = ExitCode.CONFIG

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class UsageError(BcastError):
    """The command line itself is wrong (bad option value, conflicting flags)."""

    exit_code = ExitCode.USAGE


class ConfigError(BcastError):
    """The fleet file or another input file is missing or invalid."""

    exit_code = ExitCode.CONFIG


class UnreachableError(BcastError):
    """A cluster, API or lab process could not be reached."""

    exit_code = ExitCode.UNREACHABLE


class HttpStatusError(UnreachableError):
    """An endpoint answered with an error status, raised once where the answer is read:
    callers branch on `status`, never on the message text."""

    def __init__(self, url: str, status: int, *, hint: str | None = None) -> None:
        super().__init__(f"{url}: HTTP {status}", hint=hint)
        self.url = url
        self.status = status


class OperationFailed(BcastError):
    """An operation ran but did not succeed (a gate failed, a rollout stopped)."""

    exit_code = ExitCode.CHECKS_FAILED
