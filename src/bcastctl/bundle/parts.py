"""Collected pieces of one region, before they are written: files, gaps and timeline entries."""

from __future__ import annotations

from dataclasses import dataclass, field

from bcastctl.bundle.timeline import Entry


@dataclass
class RegionParts:
    name: str
    files: dict[str, str] = field(default_factory=dict)  # path in the bundle -> text
    unreachable: dict[str, str] = field(default_factory=dict)  # part -> why
    timeline: list[Entry] = field(default_factory=list)
    reachable: bool = True
    error: str | None = None

    def add(self, name: str, text: str) -> None:
        self.files[f"regions/{self.name}/{name}"] = text
