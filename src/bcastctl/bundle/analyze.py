"""`bcastctl analyze BUNDLE`: the root-cause analysis of a bundle's verify results, offline.

The bundle keeps every check result as `verify mesh` returned it; the root causes are
computed again here from those results (the same function verify uses), so a bundle
made by an older bcastctl gets today's analysis.
"""

from __future__ import annotations

import json
from pathlib import Path

from bcastctl.bundle.archive import read_member
from bcastctl.bundle.model import BundleResult
from bcastctl.checks.report import CheckReport
from bcastctl.checks.rootcause import root_causes
from bcastctl.errors import ConfigError
from bcastctl.model import InvalidData, parse, replace


def _load(path: Path, name: str) -> object:
    try:
        return json.loads(read_member(path, name))
    except ValueError as e:
        raise ConfigError(f"{path}: {name} is not JSON: {e}") from e


def analyze_bundle(path: Path) -> tuple[BundleResult, CheckReport]:
    """The bundle's manifest and its verify report with the root causes computed again."""
    try:
        manifest = parse(BundleResult, _load(path, "manifest.json"))
        report = parse(CheckReport, _load(path, "verify-mesh.json"))
    except InvalidData as e:
        raise ConfigError(f"{path}: not a bundle this bcastctl reads: {e}") from e
    causes = root_causes(report.results, report.unreachable_regions)
    return manifest, replace(report, root_causes=causes)
