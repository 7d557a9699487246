"""What `bundle` returns and writes as manifest.json (JSON envelope kind "Bundle")."""

from __future__ import annotations

from bcastctl.model import FrozenModel

REPORT_KIND = "Bundle"


class RegionRecord(FrozenModel):
    name: str
    reachable: bool  # the target reached the region at all
    error: str | None = None  # why not, when not
    unreachable_parts: dict[str, str] = {}  # "nats <server>", "node <name>", "logs", ... -> why
    files: int = 0


class BundleResult(FrozenModel):
    path: str
    fleet: str
    target: str
    created_at: str  # ISO 8601 UTC
    since_s: float
    regions: list[RegionRecord]
    files: int
    size_bytes: int
    duration_s: float
    root_causes: list[str]  # as verify mesh found them at bundle time
    timeline_entries: int
