"""The public entries render produces: TURN on a Service GKE can provision, and HTTPS
signalling through a multi-cluster Gateway (issue 11 points 4 and 5).

- STUNner copies the Gateway's annotations onto the LoadBalancer Service it creates
  (stunner-gateway-operator internal/renderer/service_util.go) and never sets a class;
  GKE provisions TCP and UDP on one address only with the backend-service L4 load
  balancer, asked for by `cloud.google.com/l4-rbs: "enabled"`
  (cloud.google.com/kubernetes-engine/docs/how-to/mixed-protocol-lb).
- GKE multi-cluster Gateways: class `gke-l7-global-external-managed-mc`, HTTPRoute
  backends are `ServiceImport`s (group net.gke.io) of exported Services, TLS from a
  Certificate Manager map (`networking.gke.io/certmap`, docs "Secure a Gateway"), and a
  HealthCheckPolicy (networking.gke.io/v1, GoogleCloudPlatform/gke-gateway-api CRD: a
  fixed port needs portSpecification USE_FIXED_PORT) pointing the load balancer at /readyz.
- That class is Google's global external Application Load Balancer: it connects to the
  pods (zonal NEGs) from 35.191.0.0/16 and 130.211.0.0/22 (2600:2d00:1:1::/64 over IPv6)
  and appends `<client-ip>,<load-balancer-ip>` to X-Forwarded-For
  (https://cloud.google.com/load-balancing/docs/https#x-forwarded-for_header,
  https://cloud.google.com/load-balancing/docs/firewall-rules).
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Any

from bcastctl.fleet import load_fleet
from bcastctl.model import replace
from bcastctl.node.forwarded import client_address
from bcastctl.node.settings import NodeSettings
from bcastctl.render.manifests import region_manifests

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml"
FLEET = load_fleet(EXAMPLE)
assert FLEET.signalling is not None
ENTRY = FLEET.signalling


def _objects(region: str, fleet: Any = FLEET) -> list[dict[str, Any]]:
    return region_manifests(fleet, fleet.region(region)).resolved


def _node_env(region: str, fleet: Any = FLEET) -> dict[str, str]:
    statefulset = next(
        d
        for d in _objects(region, fleet)
        if d["kind"] == "StatefulSet" and d["metadata"]["name"] == f"{region}-broadcaster"
    )
    env = statefulset["spec"]["template"]["spec"]["containers"][0]["env"]
    return {e["name"]: e["value"] for e in env if "value" in e}


def test_the_turn_gateway_asks_gke_for_a_tcp_and_udp_load_balancer() -> None:
    for region in FLEET.region_names:
        gateway = next(
            d
            for d in _objects(region)
            if d["kind"] == "Gateway" and "turn" in d["metadata"]["name"]
        )
        annotations = gateway["metadata"]["annotations"]
        assert annotations["cloud.google.com/l4-rbs"] == "enabled"
        assert annotations["stunner.l7mp.io/enable-mixed-protocol-lb"] == "true"
        protocols = {listener["protocol"] for listener in gateway["spec"]["listeners"]}
        assert protocols == {"TURN-UDP", "TURN-TCP"}


def test_the_config_region_holds_the_https_entry_to_every_region() -> None:
    objects = _objects(ENTRY.config_region)
    gateway = next(d for d in objects if d["metadata"]["name"] == FLEET.signalling_gateway())
    assert gateway["kind"] == "Gateway"
    assert gateway["spec"]["gatewayClassName"] == "gke-l7-global-external-managed-mc"
    assert gateway["metadata"]["annotations"]["networking.gke.io/certmap"] == ENTRY.certificate_map
    assert gateway["spec"]["listeners"] == [{"name": "https", "protocol": "HTTPS", "port": 443}]
    routes = {d["metadata"]["name"]: d for d in objects if d["kind"] == "HTTPRoute"}
    assert sorted(routes) == sorted(FLEET.signalling_routes())
    main = routes[FLEET.signalling_gateway()]["spec"]
    assert main["hostnames"] == [ENTRY.host]
    assert main["rules"][0]["backendRefs"] == [
        {
            "group": "net.gke.io",
            "kind": "ServiceImport",
            "name": f"{region}-broadcaster",
            "port": FLEET.node.signalling_port,
        }
        for region in FLEET.region_names
    ]
    per_region = routes[f"{FLEET.signalling_gateway()}-europe-west9"]["spec"]
    assert per_region["hostnames"] == [f"europe-west9.{ENTRY.host}"]
    assert [b["name"] for b in per_region["rules"][0]["backendRefs"]] == [
        "europe-west9-broadcaster"
    ]
    checks = [d for d in objects if d["kind"] == "HealthCheckPolicy"]
    assert [c["spec"]["targetRef"]["name"] for c in checks] == [
        f"{region}-broadcaster" for region in sorted(FLEET.region_names)
    ]
    http = checks[0]["spec"]["default"]["config"]["httpHealthCheck"]
    assert http == {
        "portSpecification": "USE_FIXED_PORT",
        "port": FLEET.node.admin_port,
        "requestPath": "/readyz",
    }


def test_every_region_exports_its_signalling_service_and_only_the_config_region_has_the_entry():
    for region in FLEET.region_names:
        objects = _objects(region)
        exports = {d["metadata"]["name"] for d in objects if d["kind"] == "ServiceExport"}
        assert f"{region}-broadcaster" in exports
        has_entry = any(d["kind"] == "HTTPRoute" for d in objects)
        assert has_entry == (region == ENTRY.config_region)


def test_behind_the_entry_every_node_counts_viewers_not_googles_front_ends() -> None:
    """With the entry, every region's nodes trust Google's front-end ranges and read the
    client two entries from the right: a viewer arriving from 35.191.x with a forged prefix
    is keyed on its own address, without the Gateway's address being known."""
    for region in FLEET.region_names:
        env = _node_env(region)
        trusted = NodeSettings.trusted_proxies.parse(env[NodeSettings.trusted_proxies.env])
        appends = NodeSettings.proxy_appends.parse(env[NodeSettings.proxy_appends.env])
        assert {"35.191.0.0/16", "130.211.0.0/22"} <= set(trusted)
        assert appends == 2
        networks = [ipaddress.ip_network(cidr) for cidr in trusted]
        header = ["198.51.100.1, 203.0.113.7, 34.120.1.2"]  # forged, client, load balancer
        for front_end in ("35.191.3.4", "130.211.1.2"):
            assert client_address(front_end, header, networks, appends) == "203.0.113.7"


def test_without_the_entry_or_with_another_load_balancer_nodes_trust_no_proxy() -> None:
    assert ENTRY is not None
    regional = replace(ENTRY, gateway_class="gke-l7-regional-external-managed-mc")
    for fleet in (replace(FLEET, signalling=None), replace(FLEET, signalling=regional)):
        for region in FLEET.region_names:
            env = _node_env(region, fleet)
            assert NodeSettings.trusted_proxies.env not in env
            assert NodeSettings.proxy_appends.env not in env
