"""kube-signalling-entry: the public HTTPS entry for WHIP/WHEP is programmed and routable.

In the fleet's config cluster: the multi-cluster Gateway is Programmed with an address
(GKE has provisioned the global load balancer), every HTTPRoute is Accepted with its
references resolved by the Gateway, and every region's signalling ServiceImport exists
(MCS has imported the region's export, so the route has a backend there; a missing
one is a warning: the region may not be deployed yet, or MCS is still importing). Gateway API
status conventions: kubernetes-sigs/gateway-api apis/v1 (GatewayConditionProgrammed,
RouteConditionAccepted, RouteConditionResolvedRefs).
"""

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
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.capabilities import KubeAccess

NAME: Final = "kube-signalling-entry"
GATEWAY_API = "gateway.networking.k8s.io/v1"
# GKE takes minutes to provision a global load balancer for a new multi-cluster Gateway:
# until then "not Programmed" is a warning (deploy does not wait for it either)
PROVISIONING_S = 900.0


def provisioning(gateway: dict[str, Any] | None, now: datetime) -> bool:
    """A Gateway younger than PROVISIONING_S (its load balancer may still be coming)."""
    stamp = ((gateway or {}).get("metadata") or {}).get("creationTimestamp")
    try:
        created = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
    except ValueError:
        return False
    return (now - created).total_seconds() < PROVISIONING_S


class EntryAddress(Finding):
    check = NAME
    address: str  # the multi-cluster Gateway's address


def _true(conditions: list[dict[str, Any]], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def gateway_problem(name: str, gateway: dict[str, Any] | None) -> str | None:
    if gateway is None:
        return f"Gateway {name} missing"
    status = gateway.get("status") or {}
    if not _true(status.get("conditions") or [], "Programmed"):
        return f"Gateway {name} not Programmed (the global load balancer is not provisioned)"
    if not status.get("addresses"):
        return f"Gateway {name} has no address"
    return None


def route_problem(name: str, route: dict[str, Any] | None) -> str | None:
    if route is None:
        return f"HTTPRoute {name} missing"
    parents = (route.get("status") or {}).get("parents") or []
    if not parents:
        return f"HTTPRoute {name} not accepted by any Gateway yet"
    for parent in parents:
        conditions = parent.get("conditions") or []
        for kind in ("Accepted", "ResolvedRefs"):
            if not _true(conditions, kind):
                return f"HTTPRoute {name}: {kind} is not True"
    return None


class KubeSignallingEntry(KubeCheck):
    name = NAME
    title = "Public HTTPS signalling entry programmed, routes accepted, every region imported"
    layer = "cluster"

    async def run_kube(
        self, ctx: CheckContext, kube: KubeAccess, region: RegionEndpoints
    ) -> list[CheckResult]:
        fleet = kube.fleet
        entry = fleet.signalling
        if entry is None:
            return [skip(self.name, region.name, "the fleet has no signalling entry")]
        if region.name != entry.config_region:
            return [skip(self.name, region.name, f"the entry lives in {entry.config_region}")]
        client = await kube.kube_client(region.name)
        ns = fleet.namespace
        gateway = await client.get(GATEWAY_API, "Gateway", fleet.signalling_gateway(), ns)
        gateway_issue = gateway_problem(fleet.signalling_gateway(), gateway)
        problems = [gateway_issue]
        for name in fleet.signalling_routes():
            problems.append(
                route_problem(name, await client.get(GATEWAY_API, "HTTPRoute", name, ns))
            )
        missing = []
        for other in fleet.region_names:
            name = f"{other}-broadcaster"
            if await client.get("net.gke.io/v1", "ServiceImport", name, ns) is None:
                missing.append(f"ServiceImport {name} missing (region {other})")
        found = [problem for problem in problems if problem]
        hint = (
            f"kubectl -n {ns} describe gateway {fleet.signalling_gateway()}; "
            "gcloud container fleet ingress describe (the config membership)"
        )
        if found == [gateway_issue] and provisioning(gateway, datetime.now(tz=UTC)):
            message = f"{gateway_issue}; created less than {PROVISIONING_S / 60:.0f} min ago"
            return [warn(self.name, region.name, message, hint=hint)]
        if found:
            return [fail(self.name, region.name, "; ".join(found + missing), hint=hint)]
        if missing:  # a region not deployed yet, or MCS still importing: no backend there
            return [warn(self.name, region.name, "; ".join(missing), hint=hint)]
        address = str(((gateway or {}).get("status") or {}).get("addresses", [{}])[0].get("value"))
        return [
            ok(
                self.name,
                region.name,
                f"https://{entry.host} -> {len(fleet.region_names)} regions at {address}",
                values=EntryAddress(address=address).as_values(),
            )
        ]
