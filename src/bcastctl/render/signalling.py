"""The public HTTPS entry for signalling (WHIP/WHEP), built as objects from the fleet.

On GKE (docs: "Deploying multi-cluster Gateways", "Secure a Gateway", "Configure Gateway
resources using Policies"): every region exports its signalling Service
(`<region>-broadcaster`, ServiceExport net.gke.io/v1); the fleet's config cluster holds a
Gateway of class `gke-l7-global-external-managed-mc` (one anycast address, each client
sent to the nearest healthy region) whose TLS comes from a Certificate Manager
certificate map (`networking.gke.io/certmap`, Google-managed certificate), an HTTPRoute
from the fleet host name to every region's ServiceImport, optional per-region host
names (`<region>.<host>`), and a HealthCheckPolicy per ServiceImport so that the load
balancer judges a region by the node's `/readyz` (admin port), not by a TCP connect.
Google's health checkers come from 35.191.0.0/16 and 130.211.0.0/22: the broadcaster
NetworkPolicy admits the admin port from those ranges (and from nowhere else outside).

The load balancer's requests reach the pods (zonal NEG backends) from the same ranges
(2600:2d00:1:1::/64 over IPv6) and carry `X-Forwarded-For: [<supplied-value>,]<client-ip>,
<load-balancer-ip>` (https://cloud.google.com/load-balancing/docs/https, "Firewall rules"
and "X-Forwarded-For header"; https://cloud.google.com/load-balancing/docs/firewall-rules):
with the entry, the nodes trust those ranges and read the client two entries from the right
(node/forwarded.py), so per-client limits count viewers, not Google's front ends.
"""

from __future__ import annotations

from typing import Any, Final

from bcastctl.fleet import Fleet, Signalling
from bcastctl.node.settings import NodeSettings

Manifest = dict[str, Any]

HEALTH_CHECK_RANGES: Final = ("35.191.0.0/16", "130.211.0.0/22")
# what Google's global external Application Load Balancer connects to zonal NEGs from, and
# how many X-Forwarded-For entries it appends (<client-ip>,<load-balancer-ip>)
FRONT_END_RANGES: Final = (*HEALTH_CHECK_RANGES, "2600:2d00:1:1::/64")
FRONT_END_APPENDS: Final = 2
FRONT_END_CLASSES: Final = ("gke-l7-global-external-managed", "gke-l7-global-external-managed-mc")
# GKE provisions the entry's global load balancer in minutes: deploy does not wait for a
# Gateway with this label (verify mesh's kube-signalling-entry judges it)
ROLE_LABEL: Final = "bcastctl.io/role"
ENTRY_ROLE: Final = "signalling-entry"
LISTENER: Final = "https"


def entry_name(fleet: Fleet) -> str:
    return fleet.signalling_gateway()


def _metadata(fleet: Fleet, name: str, region: str | None = None) -> Manifest:
    labels = {"app.kubernetes.io/part-of": fleet.name, "app.kubernetes.io/managed-by": "bcastctl"}
    if region:
        labels["bcastctl.io/region"] = region
    return {"name": name, "namespace": fleet.namespace, "labels": labels}


def signalling_export(fleet: Fleet, region: str) -> Manifest:
    """A region's signalling Service, exported so the config cluster can route to it."""
    return {
        "apiVersion": "net.gke.io/v1",
        "kind": "ServiceExport",
        "metadata": _metadata(fleet, f"{region}-broadcaster", region),
    }


def _backend(fleet: Fleet, region: str) -> Manifest:
    return {
        "group": "net.gke.io",
        "kind": "ServiceImport",
        "name": f"{region}-broadcaster",
        "port": fleet.node.signalling_port,
    }


def _route(fleet: Fleet, name: str, host: str, regions: list[str]) -> Manifest:
    return {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "HTTPRoute",
        "metadata": _metadata(fleet, name),
        "spec": {
            "parentRefs": [{"name": entry_name(fleet), "sectionName": LISTENER}],
            "hostnames": [host],
            "rules": [{"backendRefs": [_backend(fleet, region) for region in regions]}],
        },
    }


def _service_import(region: str) -> Manifest:
    return {"group": "net.gke.io", "kind": "ServiceImport", "name": f"{region}-broadcaster"}


def _health_check(fleet: Fleet, region: str) -> Manifest:
    return {
        "apiVersion": "networking.gke.io/v1",
        "kind": "HealthCheckPolicy",
        "metadata": _metadata(fleet, f"{region}-broadcaster", region),
        "spec": {
            "default": {
                "config": {
                    "type": "HTTP",
                    "httpHealthCheck": {
                        "portSpecification": "USE_FIXED_PORT",
                        "port": fleet.node.admin_port,
                        "requestPath": "/readyz",
                    },
                }
            },
            "targetRef": {
                "group": "net.gke.io",
                "kind": "ServiceImport",
                "name": f"{region}-broadcaster",
            },
        },
    }


def entry_objects(fleet: Fleet, entry: Signalling) -> list[Manifest]:
    """What the config cluster holds: the Gateway, its routes, a health check per region."""
    metadata = _metadata(fleet, entry_name(fleet))
    metadata["labels"][ROLE_LABEL] = ENTRY_ROLE
    metadata["annotations"] = {"networking.gke.io/certmap": entry.certificate_map}
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": metadata,
        "spec": {
            "gatewayClassName": entry.gateway_class,
            "listeners": [{"name": LISTENER, "protocol": "HTTPS", "port": 443}],
        },
    }
    routes = [_route(fleet, entry_name(fleet), entry.host, fleet.region_names)]
    if entry.region_hosts:
        routes += [
            _route(fleet, f"{entry_name(fleet)}-{region}", f"{region}.{entry.host}", [region])
            for region in fleet.region_names
        ]
    return [gateway, *routes, *(_health_check(fleet, region) for region in fleet.region_names)]


def health_check_rule(fleet: Fleet) -> Manifest:
    """The broadcaster policy's rule for Google's health checkers (admin port only)."""
    return {
        "from": [{"ipBlock": {"cidr": cidr}} for cidr in HEALTH_CHECK_RANGES],
        "ports": [{"protocol": "TCP", "port": fleet.node.admin_port}],
    }


def trusted_proxy_env(fleet: Fleet) -> list[Manifest]:
    """The node's trusted proxies when viewers arrive through the entry's load balancer
    (a GatewayClass of Google's global external Application Load Balancer); else none."""
    entry = fleet.signalling
    if entry is None or entry.gateway_class not in FRONT_END_CLASSES:
        return []
    return [
        {"name": NodeSettings.trusted_proxies.env, "value": ",".join(FRONT_END_RANGES)},
        {"name": NodeSettings.proxy_appends.env, "value": str(FRONT_END_APPENDS)},
    ]
