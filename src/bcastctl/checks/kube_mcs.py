"""kube-mcs: this region exports its services (MCS) and imports every other region's."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from bcastctl.checks.base import (
    CheckContext,
    CheckResult,
    Finding,
    KubeCheck,
    fail,
    ok,
    skip,
    warn,
)
from bcastctl.errors import BcastError
from bcastctl.exposure import mcs_peers, mode_label, on_mcs
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.capabilities import KubeAccess

NAME: Final = "kube-mcs"
MCS = "net.gke.io/v1"
PROPAGATION_S = 300.0  # GKE MCS can take minutes to import a new export elsewhere


def exported(export: dict[str, Any] | None) -> bool:
    conditions = (export or {}).get("status", {}).get("conditions", [])
    return any(c.get("type") == "Exported" and c.get("status") == "True" for c in conditions)


def _age_s(obj: dict[str, Any], now: datetime) -> float | None:
    stamp = obj.get("metadata", {}).get("creationTimestamp")
    try:
        created = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return None
    return (now - created).total_seconds()


def export_settled(export: dict[str, Any] | None, now: datetime) -> bool:
    """An export older than PROPAGATION_S (or of unknown age): its import must exist by now."""
    if export is None:
        return False
    age = _age_s(export, now)
    return age is None or age > PROPAGATION_S


class MissingImports(Finding):
    check = NAME
    missing_imports: list[str]  # ServiceImports of other regions' exports not present here


async def _export_settled(target: KubeAccess, region: str, name: str, namespace: str) -> bool:
    """True when `region` has exported `name` for longer than MCS takes to propagate it.

    An export that is missing, younger than PROPAGATION_S or in a cluster we cannot ask
    does not make a missing import a failure (yet).
    """
    try:
        client = await target.kube_client(region)
        export = await client.get(MCS, "ServiceExport", name, namespace)
    except BcastError:
        return False
    return export_settled(export, datetime.now(tz=UTC))


async def _missing_imports(
    target: KubeAccess, region: str, services: tuple[str, ...]
) -> tuple[list[str], list[str]]:
    """Other regions' exports this region does not import: (failures, not yet expected)."""
    namespace = target.fleet.namespace
    client = await target.kube_client(region)
    imports = {
        item["metadata"]["name"]
        for item in await client.list_objects(MCS, "ServiceImport", namespace)
    }
    missing: list[str] = []
    not_yet: list[str] = []
    for other in mcs_peers(target.fleet, region):
        for service in services:
            name = f"{other}-{service}"
            if other == region or name in imports:
                continue
            settled = await _export_settled(target, other, name, namespace)
            (missing if settled else not_yet).append(name)
    return missing, not_yet


class KubeMcsExports(KubeCheck):
    name = NAME
    title = "MCS ServiceExports exported, ServiceImports of every other region present"
    layer = "dns"

    async def run_kube(
        self, ctx: CheckContext, kube: KubeAccess, region: RegionEndpoints
    ) -> list[CheckResult]:
        fleet = kube.fleet
        if not on_mcs(fleet.region(region.name)):
            mode = mode_label(fleet.region(region.name))
            return [skip(self.name, region.name, f"{region.name} is not on MCS ({mode})")]
        client = await kube.kube_client(region.name)
        services = ("broadcaster-headless", "nats-gateway")
        problems: list[str] = []
        for service in services:
            name = f"{region.name}-{service}"
            export = await client.get(MCS, "ServiceExport", name, fleet.namespace)
            if not exported(export):
                problems.append(f"ServiceExport {name} {'not exported' if export else 'missing'}")
        missing, not_yet = await _missing_imports(kube, region.name, services)
        problems += [f"ServiceImport {name} missing" for name in missing]
        if problems:
            return [
                fail(
                    self.name,
                    region.name,
                    "; ".join(problems),
                    hint="check the cluster's fleet membership and the MCS controller "
                    "(gcloud container fleet multi-cluster-services describe)",
                    values=MissingImports(missing_imports=missing).as_values(),
                )
            ]
        if not_yet:
            return [
                warn(
                    self.name,
                    region.name,
                    f"not imported yet (new or no export there): {', '.join(not_yet)}",
                    hint="deploy those regions; MCS imports their exports within minutes",
                    values=MissingImports(missing_imports=not_yet).as_values(),
                )
            ]
        others = len(mcs_peers(fleet, region.name))
        return [
            ok(
                self.name,
                region.name,
                f"{len(services)} exports exported, {len(services) * others} imports present",
            )
        ]
