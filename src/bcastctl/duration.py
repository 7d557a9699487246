"""The one duration syntax of bcastctl: `500ms`, `10s`, `2m`, `1h`, or a bare number.

Used by every CLI option that takes a time (cli/options.Duration) and by the node's time
settings (node/setting.seconds), so `--timeout 2m` and `BCAST_DRAIN_DEADLINE=2m` read alike.
"""

from __future__ import annotations

import re

_DURATION = r"^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)?\s*$"
_SECONDS_PER = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
EXPECTED = "expected a duration such as 10s, 500ms or 2m"


def seconds(text: str, *, bare: str = "s") -> float:
    """Seconds from a duration; a bare number is in `bare` units. ValueError(EXPECTED) if not."""
    match = re.match(_DURATION, text)
    if not match:
        raise ValueError(EXPECTED)
    return float(match.group(1)) * _SECONDS_PER[match.group(2) or bare]
