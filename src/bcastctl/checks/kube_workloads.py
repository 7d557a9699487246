"""kube-workloads: the region's StatefulSets (broadcaster, NATS) ready and updated, PDB present."""

from __future__ import annotations

from typing import Any

from bcastctl.checks.base import Check, CheckContext, CheckResult, fail, ok, skip
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.kube import KubeTarget


def statefulset_problem(name: str, sts: dict[str, Any] | None) -> str | None:
    if sts is None:
        return f"StatefulSet {name} missing"
    want = int(sts.get("spec", {}).get("replicas", 1))
    status = sts.get("status", {})
    ready, updated = int(status.get("readyReplicas", 0)), int(status.get("updatedReplicas", 0))
    if ready < want:
        return f"StatefulSet {name}: {ready}/{want} ready"
    if updated < want or status.get("currentRevision") != status.get("updateRevision"):
        return f"StatefulSet {name}: {updated}/{want} updated (rollout in progress)"
    return None


class KubeWorkloads(Check):
    name = "kube-workloads"
    title = "StatefulSets ready and updated, PodDisruptionBudget present"
    layer = "cluster"
    needs = frozenset({"kube"})

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        if not isinstance(ctx.target, KubeTarget):
            return [skip(self.name, region.name, "not a kube target")]
        client = await ctx.target.kube_client(region.name)
        namespace = ctx.target.fleet.namespace
        names = [f"{region.name}-broadcaster", f"{region.name}-nats"]
        problems: list[str] = []
        ready = 0
        for name in names:
            sts = await client.get("apps/v1", "StatefulSet", name, namespace)
            problem = statefulset_problem(name, sts)
            if problem:
                problems.append(problem)
            else:
                ready += 1
        pdb = f"{region.name}-broadcaster"
        if await client.get("policy/v1", "PodDisruptionBudget", pdb, namespace) is None:
            problems.append(f"PodDisruptionBudget {pdb} missing")
        if problems:
            return [
                fail(
                    self.name,
                    region.name,
                    "; ".join(problems),
                    hint=f"kubectl -n {namespace} describe statefulset; look at pod events",
                    statefulsets_ready=ready,
                )
            ]
        return [
            ok(
                self.name,
                region.name,
                f"{ready} StatefulSets ready, PDB present",
                statefulsets_ready=ready,
            )
        ]
