"""What a deploy would change in one region: desired vs live, and the dry-run diff.

The desired objects are render's resolved manifests, in apply order. An object is
unchanged when everything we apply is already live (the API server may add defaults
and status, never remove what we set); a region is unchanged when every object is and
the digest of its manifests equals the live revision's (so removed fields count too).
"""

from __future__ import annotations

import asyncio
import difflib
from dataclasses import dataclass

import yaml

from bcastctl.adapters.kube import KubeClient, Manifest
from bcastctl.deploy import revisions
from bcastctl.deploy.model import ObjectChange
from bcastctl.fleet import Fleet
from bcastctl.model import parse
from bcastctl.render.manifests import object_key, region_manifests

_NOISE = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


@dataclass(frozen=True)
class RegionDeployPlan:
    region: str
    namespace: str
    manifests: list[Manifest]
    digest: str
    image: str
    live: list[Manifest | None]  # per manifest, in the same order
    history: revisions.History
    changes: list[ObjectChange]
    prune: list[Manifest]  # in the live revision, no longer rendered

    @property
    def unchanged(self) -> bool:
        current = self.history.current
        return (
            not self.changes
            and not self.prune
            and current is not None
            and current.digest == self.digest
        )


def is_subset(desired: object, live: object) -> bool:
    """Everything in `desired` is in `live` (lists: same length, item by item)."""
    if isinstance(desired, dict):
        return isinstance(live, dict) and all(
            key in live and is_subset(value, live[key]) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(live, list)
            and len(desired) == len(live)
            and all(is_subset(d, v) for d, v in zip(desired, live, strict=True))
        )
    return desired == live


def change(action: str, doc: Manifest) -> ObjectChange:
    meta = doc["metadata"]
    return parse(
        ObjectChange,
        {
            "action": action,
            "kind": doc["kind"],
            "name": meta["name"],
            "namespace": meta.get("namespace"),
        },
    )


def desired(fleet: Fleet, region: str) -> list[Manifest]:
    return region_manifests(fleet, fleet.region(region)).resolved


async def plan_region(client: KubeClient, fleet: Fleet, region: str) -> RegionDeployPlan:
    manifests = desired(fleet, region)
    history = await revisions.load(client, fleet.namespace)
    live = await asyncio.gather(
        *(
            client.get(
                doc["apiVersion"],
                doc["kind"],
                doc["metadata"]["name"],
                doc["metadata"].get("namespace"),
            )
            for doc in manifests
        )
    )
    changes = [
        change("create" if current is None else "update", doc)
        for doc, current in zip(manifests, live, strict=True)
        if current is None or not is_subset(doc, current)
    ]
    wanted = {object_key(doc) for doc in manifests}
    prune = [
        doc
        for doc in (history.current.manifests if history.current else [])
        if object_key(doc) not in wanted
    ]
    return RegionDeployPlan(
        region=region,
        namespace=fleet.namespace,
        manifests=manifests,
        digest=revisions.digest(manifests),
        image=revisions.image_of(manifests),
        live=list(live),
        history=history,
        changes=changes + [change("delete", doc) for doc in prune],
        prune=prune,
    )


def _comparable(doc: Manifest | None) -> str:
    if doc is None:
        return ""
    clean = {k: v for k, v in doc.items() if k != "status"}
    meta = {k: v for k, v in clean.get("metadata", {}).items() if k not in _NOISE}
    clean["metadata"] = meta
    return yaml.safe_dump(clean, sort_keys=True)


def object_diff(before: Manifest | None, after: Manifest | None, label: str) -> str:
    lines = difflib.unified_diff(
        _comparable(before).splitlines(keepends=True),
        _comparable(after).splitlines(keepends=True),
        fromfile=f"live/{label}",
        tofile=f"applied/{label}",
    )
    return "".join(lines)


async def dry_run_diff(client: KubeClient, plan: RegionDeployPlan, force: bool) -> str:
    """Server-side dry-run apply of every changed object; the diff against live."""
    parts: list[str] = []
    for doc, current in zip(plan.manifests, plan.live, strict=True):
        if current is not None and is_subset(doc, current):
            continue
        after = await client.apply(doc, force=force, dry_run=True)
        parts.append(object_diff(current, after, change("update", doc).ref))
    for doc in plan.prune:
        parts.append(object_diff(doc, None, change("delete", doc).ref))
    return "".join(parts)
