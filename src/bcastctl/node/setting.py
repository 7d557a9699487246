"""How one node setting is declared: `Setting`, and the parsers its declarations use.

A `Setting` is a class attribute of `NodeSettings` (node/settings.py) and carries
everything about the setting: its environment name, its `node serve` flag, how its
text is parsed and bounded, its default, its help, and whether it is a secret
(secrets have no flag: they come only from the environment). Read on the class it
is the declaration (`NodeSettings.lat.env == "BCAST_LAT"`); read on an instance it
is the value (`settings.lat == 48.86`), typed for mypy through `__get__`.

A parser takes the text (from the environment or a flag) and returns the value or
raises ValueError with the reason; the caller names the source (flag or env var).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Generic, TypeVar, overload

from bcastctl.duration import seconds

T = TypeVar("T")
N = TypeVar("N", int, float)
Parser = Callable[[str], T]

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


class Setting(Generic[T]):
    """One node setting, declared once."""

    key: str  # the attribute name, set by __set_name__

    def __init__(
        self,
        env: str,
        default: T,
        parse: Parser[T],
        help: str,
        *,
        secret: bool = False,
        flag: str | None = None,
        metavar: str = "TEXT",
    ) -> None:
        self.env = env
        self.default = default
        self.parse = parse
        self.help = help
        self.secret = secret
        self._flag = flag
        self.metavar = metavar

    def __set_name__(self, owner: type, name: str) -> None:
        self.key = name

    @property
    def flag(self) -> str | None:
        """`node serve` flag: given, or `--<key>`; secrets have none (environment only)."""
        if self.secret:
            return None
        return self._flag or "--" + self.key.replace("_", "-")

    @overload
    def __get__(self, obj: None, owner: type) -> Setting[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object | None, owner: type) -> Setting[T] | T:
        if obj is None:
            return self
        value: T = obj.__dict__[self.key]
        return value

    def __set__(self, obj: object, value: T) -> None:
        raise AttributeError(f"settings are frozen: cannot set {self.key}")

    def describe(self) -> str:
        """Help text with the default and the environment name."""
        default = self.default
        if self.metavar == "DURATION" and isinstance(default, int | float):
            shown = f"default {default:g}s; a duration such as 500ms, 10s, 2m, bare = seconds"
        elif isinstance(default, tuple) and default:
            shown = f"default {','.join(str(part) for part in default)}"
        elif self.secret or default in (None, "", ()):
            shown = ""
        else:
            shown = f"default {default}"
        where = f"env {self.env}" if not shown else f"{shown}; env {self.env}"
        return f"{self.help} ({where})"


def integer(low: int, high: int) -> Parser[int]:
    return _bounded(int, "an integer", low, high)


def number(low: float, high: float) -> Parser[float]:
    return _bounded(float, "a number", low, high)


def _bounded(kind: Callable[[str], N], what: str, low: float, high: float) -> Parser[N]:
    def parse(text: str) -> N:
        try:
            value = kind(text)
        except ValueError:
            raise ValueError(f"expected {what}") from None
        return _within(value, low, high)

    return parse


def _within(value: N, low: float, high: float) -> N:
    if not low <= value <= high:
        raise ValueError(f"must be between {low:g} and {high:g}")
    return value


def duration(low: float, high: float) -> Parser[float]:
    """Seconds, written as a duration (`500ms`, `10s`, `2m`) or a bare number of seconds."""

    def parse(text: str) -> float:
        value = seconds(text)
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g}s and {high:g}s")
        return value

    return parse


def whole_seconds(low: int, high: int) -> Parser[int]:
    """Whole seconds, written as a duration or a bare number."""

    def parse(text: str) -> int:
        value = duration(low, high)(text)
        if value != int(value):
            raise ValueError("must be whole seconds")
        return int(value)

    return parse


def choice(*allowed: str, upper: bool = False) -> Parser[str]:
    def parse(text: str) -> str:
        value = text.upper() if upper else text.lower()
        if value not in allowed:
            raise ValueError(f"expected one of {', '.join(allowed)}")
        return value

    return parse


def name(text: str) -> str:
    if not NAME_PATTERN.match(text):
        raise ValueError(
            "use letters, digits, '-' or '_' (max 63), starting with a letter or digit"
        )
    return text


def address(text: str) -> str:
    import ipaddress  # here: `bcastctl --help` loads this module and needs none of it

    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        raise ValueError("expected an IP address") from None


def networks(text: str) -> tuple[str, ...]:
    """Comma-separated CIDRs (a bare address is a /32 or /128), normalized."""
    import ipaddress

    found: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            found.append(str(ipaddress.ip_network(part, strict=False)))
        except ValueError:
            raise ValueError(f"{part[:60]!r}: expected a CIDR such as 35.191.0.0/16") from None
    if len(found) > 64:
        raise ValueError("at most 64 networks")
    return tuple(found)


def host_port(text: str) -> tuple[str, int]:
    import ipaddress

    host, _, port = text.rpartition(":")
    if not host:
        host, port = text, "53"
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError("expected IP:PORT") from None
    return host, integer(1, 65535)(port)


def urls(*schemes: str) -> Parser[tuple[str, ...]]:
    def parse(text: str) -> tuple[str, ...]:
        found = tuple(part.strip() for part in text.split(",") if part.strip())
        if not found:
            raise ValueError("no URL given")
        for url in found:
            if not url.startswith(schemes):
                raise ValueError(f"{url!r} must start with {' or '.join(schemes)}")
        return found

    return parse


def origin(text: str) -> str:
    """An http(s)://host[:port] origin, no path (the region's public signalling URL)."""
    from urllib.parse import urlsplit

    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{text[:80]!r}: expected http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise ValueError(f"{text[:80]!r}: an origin only (no path, query or user)")
    return f"{parts.scheme}://{parts.netloc}"


def domain(text: str) -> str:
    return text.strip(".").lower()


def text(value: str) -> str:
    return value
