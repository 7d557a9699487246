"""Secrets never reach a bundle: every text written to the archive passes through `Redactor`.

Two nets: the known values (every Secret the fleet names, read from the clusters or the
lab's secrets file, also in their base64 form), replaced wherever they appear; and
patterns for credentials we cannot know in advance (`password=...`, `"token": "..."`,
`Authorization: Bearer ...`, TURN REST `credential`s, URL userinfo), also inside JSON
strings where quotes are escaped.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable

MIN_SECRET_LEN = 4  # shorter values would redact ordinary words
PATTERNS = (
    re.compile(
        r"(?i)(\\?\"?(?<![a-z])(?:password|passwd|pass|secret|token|credential|cookie)\\?\"?"
        r"\s*[:=]\s*\\?\"?)([^\\\"\s,;{}\[\]&][^\\\"\s,;}&]*)"
    ),
    re.compile(r"(?i)(bearer\s+)([A-Za-z0-9._~+/=-]+)"),
    re.compile(r"([a-z][a-z0-9+.-]*://[^:/\s@]+:)([^@/\s]+)(@)"),
)
MARK = "[REDACTED]"


class Redactor:
    def __init__(self, secrets: Iterable[str] = (), names: Iterable[str] = ()) -> None:
        """`secrets`: values to remove; `names`: words the patterns leave alone (the names of
        Secrets and secret settings, which say where a value lives, not what it is)."""
        self._values: list[str] = []
        self._names = set(names)
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        values = set(self._values)
        for secret in secrets:
            if len(secret) >= MIN_SECRET_LEN:
                values.add(secret)
                values.add(base64.b64encode(secret.encode()).decode())
        # longest first: a value that contains another is replaced whole
        self._values = sorted(values, key=len, reverse=True)

    def text(self, text: str) -> str:
        for value in self._values:
            text = text.replace(value, MARK)
        for pattern in PATTERNS:
            text = pattern.sub(self._masked, text)
        return text

    def _masked(self, match: re.Match[str]) -> str:
        if match.group(2) in self._names:
            return match.group(0)
        return match.group(1) + MARK + (match.group(3) if match.lastindex == 3 else "")
