"""Fleet -> Kubernetes objects, per region, from the YAML templates in templates/.

Templates are parsed YAML trees holding the static shape, with `${name}` placeholders
in scalars only (render/template.py places values, never text); the few parts that
depend on the whole fleet (the NATS config and its checksum, the node's environment,
the TURN listeners) are set here as data. Pure: the same fleet always gives the same
objects.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from bcastctl.exposure import on_mcs
from bcastctl.fleet import Fleet, Region
from bcastctl.model import Manifest as Manifest
from bcastctl.node.settings import NodeSettings
from bcastctl.render import template
from bcastctl.render.monitoring import monitoring_manifests
from bcastctl.render.nats_config import GATEWAY_TLS_DIR, nats_config, nats_secret_env
from bcastctl.render.reach import shape_gateway_service, turn_annotations
from bcastctl.render.signalling import (
    entry_objects,
    health_check_rule,
    signalling_export,
    trusted_proxy_env,
)
from bcastctl.render.template import Scalar

_CONFIG_VARIABLE = re.compile(r"\$([A-Za-z_][A-Za-z0-9_]*)")

BASE_FILES = ("namespace.yaml", "rbac.yaml", "networkpolicy.yaml", "stunner.yaml")
REGION_FILES = ("nats.yaml", "stunner.yaml", "broadcaster.yaml", "mcs.yaml")

# Apply order: what others depend on first (DESIGN: namespace and RBAC, NATS, STUNner,
# broadcaster). kubectl-style kind priority inside each file group.
KIND_ORDER = (
    "Namespace",
    "ServiceAccount",
    "NetworkPolicy",
    "ConfigMap",
    "Service",
    "StatefulSet",
    "PodDisruptionBudget",
    "GatewayClass",
    "GatewayConfig",
    "Gateway",
    "UDPRoute",
    "ServiceExport",
    "HTTPRoute",
    "HealthCheckPolicy",
)


@dataclass(frozen=True)
class RegionManifests:
    region: str
    base: list[Manifest]  # fleet-wide objects (the kustomize base)
    own: list[Manifest]  # this region's objects (the overlay's files)
    files: dict[str, list[Manifest]]  # overlay file name -> its objects

    @property
    def resolved(self) -> list[Manifest]:
        """Everything applied to this region, in apply order."""
        return sort_for_apply(self.base + self.own)


def fleet_values(fleet: Fleet) -> dict[str, Scalar]:
    return {
        "fleet": fleet.name,
        "namespace": fleet.namespace,
        "image": fleet.image,
        "gateway_class": fleet.stunner.gateway_class,
        "realm": fleet.stunner.realm,
        "turn_secret": fleet.secrets.turn,
        "nats_image": fleet.nats.image,
        "signalling_port": fleet.node.signalling_port,
        "admin_port": fleet.node.admin_port,
        "rtc_port_min": fleet.node.rtc_port_min,
        "rtc_port_max": fleet.node.rtc_port_max,
        # the preStop drain (node drain) plus SIGTERM's own stop fit in the grace period
        "termination_grace_s": fleet.node.drain_deadline_s + 15,
        "nats_client_port": fleet.nats.client_port,
        "nats_cluster_port": fleet.nats.cluster_port,
        "nats_gateway_port": fleet.nats.gateway_port,
        "nats_monitor_port": fleet.nats.monitor_port,
    }


def region_values(fleet: Fleet, region: Region) -> dict[str, Scalar]:
    return {
        **fleet_values(fleet),
        "region": region.name,
        "replicas": region.replicas,
        "cluster_size": fleet.nats.cluster_size,
        "client_port": fleet.nats.client_port,
        "cluster_port": fleet.nats.cluster_port,
        "gateway_port": fleet.nats.gateway_port,
        "monitor_port": fleet.nats.monitor_port,
    }


def node_env(fleet: Fleet, region: Region) -> list[Manifest]:
    """The node container's environment; secrets come from Secret references."""

    def value(name: str, text: object) -> Manifest:
        return {"name": name, "value": str(text)}

    def secret(name: str, secret_name: str) -> Manifest:
        return {"name": name, "valueFrom": {"secretKeyRef": {"name": secret_name, "key": "secret"}}}

    # the ClusterIP Service: only ready servers behind it (the headless one publishes
    # not-ready addresses, for the StatefulSet's routes)
    nats_url = (
        f"nats://{region.name}-nats-client.{fleet.namespace}.svc.cluster.local"
        f":{fleet.nats.client_port}"
    )
    turn_urls = ",".join(
        f"turn:{region.turn_address}:{listener.port}?transport={listener.protocol[5:].lower()}"
        for listener in fleet.stunner.listeners
        if region.turn_address and listener.protocol in ("TURN-UDP", "TURN-TCP")
    )
    return [
        {"name": NodeSettings.name.env, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {
            "name": NodeSettings.advertise_address.env,
            "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}},
        },
        value(NodeSettings.region.env, region.name),
        value(NodeSettings.fleet.env, fleet.name),
        value(NodeSettings.lat.env, region.geo.lat),
        value(NodeSettings.lon.env, region.geo.lon),
        value(NodeSettings.nats_urls.env, nats_url),
        value(NodeSettings.bind_address.env, "0.0.0.0"),
        value(NodeSettings.signalling_port.env, fleet.node.signalling_port),
        value(NodeSettings.admin_port.env, fleet.node.admin_port),
        value(NodeSettings.max_sessions.env, fleet.node.max_sessions),
        value(NodeSettings.drain_deadline_s.env, fleet.node.drain_deadline_s),
        *public_url_env(fleet, region),
        *trusted_proxy_env(fleet),
        value(NodeSettings.rtc_port_min.env, fleet.node.rtc_port_min),
        value(NodeSettings.rtc_port_max.env, fleet.node.rtc_port_max),
        value(NodeSettings.turn_urls.env, turn_urls),
        value(NodeSettings.ice_policy.env, "relay" if turn_urls else "all"),
        # the node's NATS user is its pod name (render/nats_config.py renders one per ordinal)
        {
            "name": NodeSettings.nats_user.env,
            "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}},
        },
        secret(NodeSettings.nats_password.env, fleet.secrets.nats_node),
        secret(NodeSettings.cluster_secret.env, fleet.secrets.cluster),
        secret(NodeSettings.whip_token.env, fleet.secrets.whip_token),
        secret(NodeSettings.turn_secret.env, fleet.secrets.turn),
    ]


def public_url_env(fleet: Fleet, region: Region) -> list[Manifest]:
    """BCAST_PUBLIC_URL: the region's own public host (`<region>.<host>`) when the entry
    has region hosts; other regions redirect viewers there (node/placement.py). The global
    host would send a redirected viewer back to the nearest region: no URL then."""
    entry = fleet.signalling
    if entry is None or not entry.region_hosts:
        return []
    return [{"name": NodeSettings.public_url.env, "value": f"https://{region.name}.{entry.host}"}]


def config_variables(config: str) -> list[str]:
    """The `$NAME` variables a NATS config reads from its environment (comments skipped)."""
    names: list[str] = []
    for line in config.splitlines():
        code = line.split("#", 1)[0]
        for name in _CONFIG_VARIABLE.findall(code):
            if name not in names:
                names.append(name)
    return names


def nats_env(fleet: Fleet, config: str) -> list[Manifest]:
    """The NATS container's environment: every variable its config references.

    POD_NAME is the pod's own name; every other variable is a credential and comes
    from the Secret of that name in fleet.secrets (key `secret`), never as text.
    """
    secrets = {item.env: item.secret for item in nats_secret_env(fleet)}
    env: list[Manifest] = []
    for name in config_variables(config):
        if name == "POD_NAME":
            env.append({"name": name, "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}})
        else:
            ref = {"name": secrets[name], "key": "secret"}
            env.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
    return env


def base_files(fleet: Fleet) -> dict[str, list[Manifest]]:
    """Fleet-wide objects by base file name."""
    values = fleet_values(fleet)
    files = {name: template.load(f"base/{name}", values) for name in BASE_FILES}
    if fleet.signalling is not None:
        for policy in files["networkpolicy.yaml"]:
            if policy["metadata"]["name"] == "broadcaster":
                policy["spec"]["ingress"].append(health_check_rule(fleet))
    return files


def base_manifests(fleet: Fleet) -> list[Manifest]:
    return [doc for docs in base_files(fleet).values() for doc in docs]


def region_manifests(
    fleet: Fleet, region: Region, base: list[Manifest] | None = None
) -> RegionManifests:
    """The region's objects; `base`: the fleet-wide ones when already built (not copied)."""
    values = region_values(fleet, region)
    files = {name: template.load(f"region/{name}", values) for name in REGION_FILES}
    if not on_mcs(region):  # exported names exist only on multi-cluster services
        del files["mcs.yaml"]
    for doc in (doc for docs in files.values() for doc in docs):
        _fill(fleet, region, doc)
    if fleet.signalling is not None:
        files["mcs.yaml"].append(signalling_export(fleet, region.name))
        if fleet.signalling.config_region == region.name:
            files["signalling.yaml"] = entry_objects(fleet, fleet.signalling)
    monitoring = monitoring_manifests(fleet, region)
    if monitoring:
        files["monitoring.yaml"] = monitoring
    own = [doc for docs in files.values() for doc in docs]
    shared = base if base is not None else base_manifests(fleet)
    return RegionManifests(region.name, shared, own, files)


def _fill(fleet: Fleet, region: Region, doc: Manifest) -> None:
    kind, name = doc["kind"], doc["metadata"]["name"]
    if kind == "ConfigMap" and name == f"{region.name}-nats-config":
        doc["data"] = {"nats.conf": nats_config(fleet, region)}
    elif kind == "StatefulSet" and name == f"{region.name}-nats":
        config = nats_config(fleet, region)
        pod = doc["spec"]["template"]
        pod["metadata"]["annotations"]["checksum/config"] = hashlib.sha256(
            config.encode()
        ).hexdigest()
        pod["spec"]["containers"][0]["env"] = nats_env(fleet, config)
        if fleet.nats.gateway_tls is not None:
            mount_gateway_tls(pod["spec"], fleet.nats.gateway_tls.secret)
    elif kind == "StatefulSet" and name == f"{region.name}-broadcaster":
        doc["spec"]["template"]["spec"]["containers"][0]["env"] = node_env(fleet, region)
    elif kind == "Service" and name == f"{region.name}-nats-gateway":
        shape_gateway_service(region, doc)
    elif kind == "Gateway":
        doc["metadata"]["annotations"] = turn_annotations(region)
        doc["spec"]["listeners"] = [
            {"name": listener.name, "port": listener.port, "protocol": listener.protocol}
            for listener in fleet.stunner.listeners
        ]
        if region.turn_address:
            doc["spec"]["addresses"] = [{"type": "IPAddress", "value": region.turn_address}]


def mount_gateway_tls(pod_spec: Manifest, secret: str) -> None:
    """The gateway certificate Secret, read-only where nats.conf's `tls {}` reads it."""
    pod_spec["volumes"].append({"name": "gateway-tls", "secret": {"secretName": secret}})
    pod_spec["containers"][0]["volumeMounts"].append(
        {"name": "gateway-tls", "mountPath": GATEWAY_TLS_DIR, "readOnly": True}
    )


def sort_for_apply(docs: list[Manifest]) -> list[Manifest]:
    def key(doc: Manifest) -> tuple[int, str]:
        kind = doc["kind"]
        rank = KIND_ORDER.index(kind) if kind in KIND_ORDER else len(KIND_ORDER)
        return rank, doc["metadata"]["name"]

    return sorted(docs, key=key)


def object_key(doc: Manifest) -> tuple[str, str, str, str]:
    meta = doc["metadata"]
    return doc["apiVersion"], doc["kind"], meta.get("namespace", ""), meta["name"]
