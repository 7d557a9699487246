"""One timeline across regions: Kubernetes events and notable log lines, ordered by time.

Log lines carry their time in one of the formats seen here: RFC 3339 (the Kubernetes log
API with `timestamps=true`), Python logging's `2026-11-30 23:16:04,123`, and nats-server's
`2026/11/30 23:16:04.987246`. Lines without a time are not on the timeline (they are in
the logs). Only notable lines are kept: warnings, errors and membership/gateway changes.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

MAX_ENTRIES = 5000
_STAMP = re.compile(
    r"(\d{4})[-/](\d{2})[-/](\d{2})[T ](\d{2}):(\d{2}):(\d{2})"
    r"(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?"
)
NOTABLE = re.compile(
    r"(?i)\b(warn\w*|error|err|fatal|\[wrn\]|\[err\]|\[ftl\]|gateway|rejected|down|left|"
    r"joined|timeout|refused|unreachable|expired|restart\w*|killed|oomkilled)\b"
)


@dataclass(frozen=True, order=True)
class Entry:
    time: str  # ISO 8601, UTC
    region: str
    source: str  # "event", or the log's name
    text: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def parse_time(text: str) -> datetime | None:
    """The first timestamp in `text` (naive times are taken as UTC)."""
    match = _STAMP.search(text[:64])
    if not match:
        return None
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    stamp = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        hours, minutes = int(zone[1:3]), int(zone[-2:])
        stamp -= sign * timedelta(hours=hours, minutes=minutes)
    return stamp.replace(tzinfo=UTC)


def iso(stamp: datetime) -> str:
    return stamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def log_entries(region: str, source: str, text: str, since: datetime | None) -> list[Entry]:
    entries = []
    for line in text.splitlines():
        stamp = parse_time(line)
        if stamp is None or not NOTABLE.search(line) or (since and stamp < since):
            continue
        entries.append(Entry(iso(stamp), region, source, line.strip()[:500]))
    return entries


def event_entries(region: str, events: list[dict[str, Any]]) -> list[Entry]:
    entries = []
    for event in events:
        when = event.get("eventTime") or event.get("lastTimestamp") or event.get("firstTimestamp")
        stamp = parse_time(str(when or ""))
        if stamp is None:
            continue
        involved = event.get("involvedObject", {})
        text = (
            f"{event.get('type', '')} {involved.get('kind', '')}/{involved.get('name', '')}: "
            f"{event.get('reason', '')}: {event.get('message', '')}"
        )
        entries.append(Entry(iso(stamp), region, "event", text.strip()[:500]))
    return entries


def merged(entries: list[Entry]) -> list[Entry]:
    """Ordered by time (then region, source), the latest MAX_ENTRIES kept."""
    return sorted(entries)[-MAX_ENTRIES:]
