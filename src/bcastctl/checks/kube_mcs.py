"""kube-mcs: this region exports its services (MCS) and imports every other region's."""

from __future__ import annotations

from typing import Any

from bcastctl.checks.base import Check, CheckContext, CheckResult, fail, ok, skip, warn
from bcastctl.errors import BcastError
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.kube import KubeTarget

MCS = "net.gke.io/v1"


def exported(export: dict[str, Any] | None) -> bool:
    conditions = (export or {}).get("status", {}).get("conditions", [])
    return any(c.get("type") == "Exported" and c.get("status") == "True" for c in conditions)


async def _exports(target: KubeTarget, region: str, name: str, namespace: str) -> bool | None:
    """Does `region` export `name`? None when that region's cluster cannot tell."""
    try:
        client = await target.kube_client(region)
        return await client.get(MCS, "ServiceExport", name, namespace) is not None
    except BcastError:
        return None


class KubeMcsExports(Check):
    name = "kube-mcs"
    title = "MCS ServiceExports exported, ServiceImports of every other region present"
    layer = "dns"
    needs = frozenset({"kube"})

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        if not isinstance(ctx.target, KubeTarget):
            return [skip(self.name, region.name, "not a kube target")]
        fleet = ctx.target.fleet
        client = await ctx.target.kube_client(region.name)
        services = ("broadcaster-headless", "nats-gateway")
        problems: list[str] = []
        for service in services:
            name = f"{region.name}-{service}"
            export = await client.get(MCS, "ServiceExport", name, fleet.namespace)
            if not exported(export):
                problems.append(f"ServiceExport {name} {'not exported' if export else 'missing'}")
        imports = {
            item["metadata"]["name"]
            for item in await client.list_objects(MCS, "ServiceImport", fleet.namespace)
        }
        missing: list[str] = []
        not_yet: list[str] = []
        for other in fleet.region_names:
            for service in services:
                name = f"{other}-{service}"
                if other == region.name or name in imports:
                    continue
                exported_there = await _exports(ctx.target, other, name, fleet.namespace)
                (missing if exported_there is not False else not_yet).append(name)
        problems += [f"ServiceImport {name} missing" for name in missing]
        if problems:
            return [
                fail(
                    self.name,
                    region.name,
                    "; ".join(problems),
                    hint="check the cluster's fleet membership and the MCS controller "
                    "(gcloud container fleet multi-cluster-services describe)",
                    missing_imports=missing,
                )
            ]
        if not_yet:
            return [
                warn(
                    self.name,
                    region.name,
                    f"not exported yet by their regions: {', '.join(not_yet)}",
                    hint="deploy those regions; their ServiceImports appear after",
                    missing_imports=not_yet,
                )
            ]
        return [
            ok(
                self.name,
                region.name,
                f"{len(services)} exports, {len(imports)} imports",
                imports=sorted(imports),
            )
        ]
