"""`bcastctl bundle`: every region's evidence in one archive, whatever cannot be reached.

Per region, concurrently: NATS monitoring pages and node views (any target), pods, events,
logs and the live-vs-rendered diff (clusters) or the process logs (the lab). Then the
fleet-wide `verify mesh` and `probe rtt` results and one timeline. A region or a part
that does not answer is recorded in manifest.json with the reason; the rest is collected.
Every text goes through the Redactor, which knows the values of every Secret the fleet
names (read from the clusters, or the lab's secrets file).
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import yaml

from bcastctl.bundle.archive import BundleWriter
from bcastctl.bundle.endpoints import collect_endpoints
from bcastctl.bundle.kube_parts import collect_kube, secret_values
from bcastctl.bundle.lab_parts import collect_lab, lab_secret_values
from bcastctl.bundle.model import BundleResult, RegionRecord
from bcastctl.bundle.parts import RegionParts
from bcastctl.bundle.redact import Redactor
from bcastctl.bundle.timeline import iso, merged
from bcastctl.checks.runner import RunOptions, run_checks
from bcastctl.errors import BcastError, UsageError
from bcastctl.model import replace, to_data
from bcastctl.probes.rtt import RttOptions, probe_rtt
from bcastctl.targets.base import Target
from bcastctl.targets.capabilities import kube_access_or_none, lab_processes


@dataclass(frozen=True)
class BundleOptions:
    path: Path
    since_s: float = 3600.0
    timeout_s: float = 10.0
    rtt_samples: int = 3

    def validate(self) -> None:
        if not 0 < self.since_s <= 30 * 86400:
            raise UsageError(f"--since {self.since_s:g} s: must be more than 0 and at most 30 days")
        if not self.path.name.endswith((".tar.gz", ".tgz")):
            raise UsageError(f"-f {self.path}: the bundle file must end in .tar.gz")


async def _known_secrets(target: Target) -> list[str]:
    lab, kube = lab_processes(target), kube_access_or_none(target)
    if lab is not None:
        return lab_secret_values(lab.state)
    if kube is not None:
        return await secret_values(kube, target.fleet)
    return []


async def _region(
    target: Target, name: str, options: BundleOptions, since: datetime
) -> RegionParts:
    parts = RegionParts(name)
    try:
        region = await target.region(name, options.timeout_s)
    except BcastError as e:
        parts.reachable, parts.error = False, e.message
        parts.add("UNREACHABLE.txt", f"region {name} could not be reached: {e.message}\n")
        return parts
    await collect_endpoints(target, region, parts, options.timeout_s)
    kube = kube_access_or_none(target)
    if kube is not None:
        await collect_kube(kube, target.fleet, parts, options.since_s, since)
    return parts


def _record(parts: RegionParts) -> RegionRecord:
    return RegionRecord(name=parts.name, reachable=parts.reachable, error=parts.error,
                        unreachable_parts=parts.unreachable, files=len(parts.files))  # fmt: skip


async def collect_bundle(target: Target, options: BundleOptions) -> BundleResult:
    options.validate()
    started, now = time.monotonic(), datetime.now(UTC)
    since = now - timedelta(seconds=options.since_s)
    names = target.fleet.secrets.names()  # the lab's secrets are keyed by them
    writer = BundleWriter(options.path, Redactor(await _known_secrets(target), names))
    try:
        regions = list(await asyncio.gather(
            *(_region(target, name, options, since) for name in target.region_names)))  # fmt: skip
        extra = []
        lab = lab_processes(target)
        if lab is not None:
            extra.append(collect_lab(lab.state, {p.name: p for p in regions}, since))
        checks = await run_checks(target, RunOptions(timeout_s=options.timeout_s))
        rtt = await probe_rtt(target, RttOptions(samples=options.rtt_samples, client=False,
                                                 timeout_s=options.timeout_s))  # fmt: skip
        writer.text("fleet.yaml", yaml.safe_dump(to_data(target.fleet), sort_keys=False))
        writer.json("verify-mesh.json", to_data(checks))
        writer.json("probe-rtt.json", to_data(rtt))
        timeline = merged([entry for p in [*regions, *extra] for entry in p.timeline])
        writer.text("timeline.jsonl", "".join(json.dumps(e.as_dict()) + "\n" for e in timeline))
        for parts in [*regions, *extra]:
            for name, text in parts.files.items():
                writer.text(name, text)
        result = BundleResult(
            path=str(options.path), fleet=target.fleet.name, target=target.kind,
            created_at=iso(now), since_s=options.since_s,
            regions=[_record(p) for p in regions], files=len(writer.files) + 1,
            size_bytes=0, duration_s=0.0, root_causes=[c.cause for c in checks.root_causes],
            timeline_entries=len(timeline),
        )  # fmt: skip
        writer.json("manifest.json", to_data(result))
    finally:
        writer.close()
    return replace(result, size_bytes=options.path.stat().st_size,
                   duration_s=round(time.monotonic() - started, 2))  # fmt: skip


async def collect_bundle_on(target: Target, options: BundleOptions) -> BundleResult:
    try:
        return await collect_bundle(target, options)
    finally:
        await target.close()
