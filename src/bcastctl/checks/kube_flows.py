"""kube-flows: the NetworkPolicies live in a region admit every flow the system needs
(TURN relays -> node media range, other regions -> NATS gateway, node -> NATS client,
NATS routes, the API server's pod proxy -> admin and monitor, kubelet probes) and keep
the admin port closed to everything outside the namespace; one failure per flow.

The same evaluator (bcastctl.flows) that render runs before writing, on what the cluster
actually holds: a policy someone added or edited by hand shows up here.
"""

from __future__ import annotations

from typing import Final

from bcastctl.checks.base import CheckContext, CheckResult, KubeCheck, fail, ok
from bcastctl.flows import region_flow_problems
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.capabilities import KubeAccess

NAME: Final = "kube-flows"


class KubeFlows(KubeCheck):
    name = NAME
    title = "NetworkPolicies admit the flows the system needs, admin closed outside"
    layer = "cluster"

    async def run_kube(
        self, ctx: CheckContext, kube: KubeAccess, region: RegionEndpoints
    ) -> list[CheckResult]:
        client = await kube.kube_client(region.name)
        namespace = kube.fleet.namespace
        objects = await client.list_objects("networking.k8s.io/v1", "NetworkPolicy", namespace)
        for policy in objects:
            policy.setdefault("kind", "NetworkPolicy")
        for name in (f"{region.name}-broadcaster", f"{region.name}-nats"):
            statefulset = await client.get("apps/v1", "StatefulSet", name, namespace)
            if statefulset is not None:
                objects.append({**statefulset, "kind": "StatefulSet"})
        problems = region_flow_problems(kube.fleet, region.name, objects)
        if not problems:
            return [
                ok(self.name, region.name, f"{len(objects) - 2} NetworkPolicies admit every flow")
            ]
        hint = f"kubectl -n {namespace} get networkpolicy -o yaml; compare with `bcastctl render`"
        return [fail(self.name, region.name, problem.line(), hint=hint) for problem in problems]
