"""kube-workloads: the region's StatefulSets (broadcaster, NATS) ready and updated, PDB present."""

from __future__ import annotations

from typing import Any, Final

from bcastctl.checks.base import CheckContext, CheckResult, Finding, KubeCheck, fail, ok
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.capabilities import KubeAccess

NAME: Final = "kube-workloads"


class WorkloadsReady(Finding):
    check = NAME
    statefulsets_ready: int


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


class KubeWorkloads(KubeCheck):
    name = NAME
    title = "StatefulSets ready and updated, PodDisruptionBudget present"
    layer = "cluster"

    async def run_kube(
        self, ctx: CheckContext, kube: KubeAccess, region: RegionEndpoints
    ) -> list[CheckResult]:
        client = await kube.kube_client(region.name)
        namespace = kube.fleet.namespace
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
                    values=WorkloadsReady(statefulsets_ready=ready).as_values(),
                )
            ]
        return [
            ok(
                self.name,
                region.name,
                f"{ready} StatefulSets ready, PDB present",
                values=WorkloadsReady(statefulsets_ready=ready).as_values(),
            )
        ]
