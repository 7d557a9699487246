"""kube-stunner-gateway: the region's STUNner Gateway is Programmed and has a public address."""

from __future__ import annotations

from bcastctl.checks.base import Check, CheckContext, CheckResult, fail, ok, skip
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.kube import KubeTarget, gateway_address


class KubeStunnerGateway(Check):
    name = "kube-stunner-gateway"
    title = "STUNner Gateway programmed with a public address"
    layer = "turn"
    needs = frozenset({"kube"})

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        if not isinstance(ctx.target, KubeTarget):
            return [skip(self.name, region.name, "not a kube target")]
        namespace = ctx.target.fleet.namespace
        name = f"{region.name}-turn-gateway"
        gateway = await (await ctx.target.kube_client(region.name)).get(
            "gateway.networking.k8s.io/v1", "Gateway", name, namespace
        )
        if gateway is None:
            return [
                fail(
                    self.name,
                    region.name,
                    f"Gateway {namespace}/{name} missing",
                    hint="bcastctl deploy --region " + region.name,
                )
            ]
        conditions = {c.get("type"): c for c in gateway.get("status", {}).get("conditions", [])}
        programmed = conditions.get("Programmed", {})
        address = gateway_address(gateway)
        if programmed.get("status") != "True" or address is None:
            why = programmed.get("reason") or "no Programmed condition"
            return [
                fail(
                    self.name,
                    region.name,
                    f"Gateway {name} not programmed ({why}), address: {address or 'none'}",
                    hint="is the STUNner gateway operator running, and did the LoadBalancer "
                    "Service get an external IP? (kubectl -n stunner-system logs deploy/"
                    "stunner-gateway-operator-controller-manager)",
                )
            ]
        return [
            ok(self.name, region.name, f"Gateway {name} programmed at {address}", address=address)
        ]
