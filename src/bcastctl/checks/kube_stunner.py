"""kube-stunner-gateway: the region's STUNner Gateway is Programmed and has a public address."""

from __future__ import annotations

from typing import Final

from bcastctl.checks.base import CheckContext, CheckResult, Finding, KubeCheck, fail, ok
from bcastctl.model import Manifest
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.capabilities import KubeAccess
from bcastctl.targets.kube import gateway_address

NAME: Final = "kube-stunner-gateway"


class GatewayAddress(Finding):
    check = NAME
    address: str  # the Gateway's public address


def not_programmed(gateway: Manifest) -> str | None:
    """Why the Gateway is not Programmed (its condition's reason), or None when it is."""
    conditions = {c.get("type"): c for c in gateway.get("status", {}).get("conditions", [])}
    programmed = conditions.get("Programmed", {})
    if programmed.get("status") == "True":
        return None
    return str(programmed.get("reason") or "no Programmed condition")


class KubeStunnerGateway(KubeCheck):
    name = NAME
    title = "STUNner Gateway programmed with a public address"
    layer = "turn"

    async def run_kube(
        self, ctx: CheckContext, kube: KubeAccess, region: RegionEndpoints
    ) -> list[CheckResult]:
        namespace = kube.fleet.namespace
        name = f"{region.name}-turn-gateway"
        gateway = await (await kube.kube_client(region.name)).get(
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
        address = gateway_address(gateway)
        why = not_programmed(gateway)
        if why is not None or address is None:
            return [
                fail(
                    self.name,
                    region.name,
                    f"Gateway {name} not programmed ({why or 'Programmed'}), "
                    f"address: {address or 'none'}",
                    hint="is the STUNner gateway operator running, and did the LoadBalancer "
                    "Service get an external IP? (kubectl -n stunner-system logs deploy/"
                    "stunner-gateway-operator-controller-manager)",
                )
            ]
        return [
            ok(
                self.name,
                region.name,
                f"Gateway {name} programmed at {address}",
                values=GatewayAddress(address=address).as_values(),
            )
        ]
