"""Preflight: everything a region needs before anything is written anywhere.

Per region: the API answers (and its version), every API group and kind the manifests
use is served (STUNner, Gateway API and MCS CRDs, with the install command as hint),
every Secret the manifests reference exists with a `secret` key, STUNner's auth Secret
also with `type: ephemeral` (values are never read into output), the gateway TLS Secret
with valid certificates (deploy/gateway_tls.py: expired refuses, within 14 days warns),
and a GKE cluster is
recent enough for the TURN Service's mixed-protocol load balancer. Problems come back
as BcastErrors, one per region at most.
"""

from __future__ import annotations

import asyncio
import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from bcastctl.adapters.kube import KubeClient, Manifest, ServerVersion
from bcastctl.deploy.gateway_tls import gateway_tls_secrets, tls_verdict
from bcastctl.errors import BcastError, ConfigError

INSTALL_HINTS: Final = {
    "gateway.networking.k8s.io": "install the Gateway API CRDs: kubectl apply -f "
    "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml",
    "stunner.l7mp.io": "install STUNner: helm install stunner-gateway-operator "
    "stunner/stunner-gateway-operator --create-namespace --namespace=stunner-system",
    "net.gke.io": "enable GKE multi-cluster services: gcloud container fleet "
    "multi-cluster-services enable (and register the cluster in the fleet)",
    "monitoring.coreos.com": "install the prometheus-operator CRDs (PrometheusRule, "
    "ServiceMonitor), e.g. with the kube-prometheus-stack chart, or set monitor.enabled: false",
    "networking.gke.io": "enable the GKE Gateway controller (gcloud container clusters update "
    "CLUSTER --gateway-api=standard) and multi-cluster Gateways with this cluster as config "
    "cluster (gcloud container fleet ingress enable --config-membership=MEMBERSHIP)",
}
MIN_MINOR: Final = 26


@dataclass(frozen=True)
class Preflight:
    region: str
    version: ServerVersion
    warnings: tuple[str, ...] = ()  # shown with the region's outcome; deploy goes on


def referenced_secrets(manifests: list[Manifest]) -> set[tuple[str, str]]:
    """(namespace, name) of every Secret the manifests read."""
    found: set[tuple[str, str]] = set()
    for doc in manifests:
        namespace = doc["metadata"].get("namespace", "")
        for ref in _secret_key_refs(doc):
            found.add((namespace, ref))
        if doc["kind"] == "GatewayConfig":
            auth = doc.get("spec", {}).get("authRef", {})
            if auth.get("name"):
                found.add((auth.get("namespace", namespace), auth["name"]))
    return found


def _secret_key_refs(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        ref = value.get("secretKeyRef")
        if isinstance(ref, dict) and isinstance(ref.get("name"), str):
            yield ref["name"]
        volume = value.get("secret")  # a pod volume: {secret: {secretName: ...}}
        if isinstance(volume, dict) and isinstance(volume.get("secretName"), str):
            yield volume["secretName"]
        for item in value.values():
            yield from _secret_key_refs(item)
    elif isinstance(value, list):
        for item in value:
            yield from _secret_key_refs(item)


async def _check_kinds(client: KubeClient, region: str, manifests: list[Manifest]) -> None:
    wanted: dict[str, set[str]] = {}
    for doc in manifests:
        wanted.setdefault(doc["apiVersion"], set()).add(doc["kind"])
    served = await asyncio.gather(*(client.resources(v) for v in sorted(wanted)))
    for (api_version, kinds), resources in zip(sorted(wanted.items()), served, strict=True):
        missing = sorted(kinds - set(resources or {}))
        if missing:
            group = api_version.rpartition("/")[0] or "core"
            raise ConfigError(
                f"{region}: cluster {client.name} does not serve {', '.join(missing)} "
                f"({api_version}): CRD missing",
                hint=INSTALL_HINTS.get(group, f"install the CRDs of {group}"),
            )


def turn_auth_secrets(manifests: list[Manifest]) -> set[tuple[str, str]]:
    """(namespace, name) of the Secrets STUNner's GatewayConfigs take their auth from."""
    found: set[tuple[str, str]] = set()
    for doc in manifests:
        if doc["kind"] == "GatewayConfig":
            auth = doc.get("spec", {}).get("authRef", {})
            if auth.get("name"):
                found.add(
                    (auth.get("namespace", doc["metadata"].get("namespace", "")), auth["name"])
                )
    return found


def _secret_problem(secret: Manifest | None, turn_auth: bool) -> str | None:
    """What is wrong with a Secret, never quoting a value that could be secret."""
    if secret is None:
        return "is missing"
    data = secret.get("data") or {}
    if "secret" not in data:
        return "has no key 'secret'"
    if turn_auth:
        # STUNner's operator takes the auth type from the Secret's `type` key and ignores
        # GatewayConfig.spec.authType; without it the type is `static`, which needs
        # username/password (stunner docs/AUTH.md;
        # stunner-gateway-operator internal/renderer/auth_render.go)
        try:
            kind = base64.b64decode(data.get("type", ""), validate=True).decode()
        except (ValueError, UnicodeDecodeError):
            kind = "?"
        if kind != "ephemeral":
            found = "no key 'type'" if "type" not in data else "'type' other than 'ephemeral'"
            return f"has {found} (STUNner would use static auth and refuse TURN REST credentials)"
    return None


async def _check_gateway_tls(
    client: KubeClient, region: str, context: str, manifests: list[Manifest]
) -> list[str]:
    """The gateway TLS Secret's problems (raised) and expiry warnings (returned)."""
    warnings: list[str] = []
    for namespace, name in sorted(gateway_tls_secrets(manifests)):
        verdict = tls_verdict(await client.get("v1", "Secret", name, namespace))
        if verdict.problem:
            raise ConfigError(
                f"{region}: gateway TLS Secret {namespace}/{name} {verdict.problem}",
                hint=f"kubectl{context} -n {namespace} create secret generic {name} "
                "--type=kubernetes.io/tls --from-file=tls.crt=<cert> --from-file=tls.key=<key> "
                "--from-file=ca.crt=<fleet gateway CA>",
            )
        if verdict.warning:
            warnings.append(f"gateway TLS Secret {namespace}/{name}: {verdict.warning}")
    return warnings


async def _check_secrets(
    client: KubeClient, region: str, context: str, manifests: list[Manifest]
) -> None:
    turn_auth = turn_auth_secrets(manifests)
    tls = gateway_tls_secrets(manifests)
    for namespace, name in sorted(referenced_secrets(manifests) - tls):
        secret = await client.get("v1", "Secret", name, namespace)
        is_turn = (namespace, name) in turn_auth
        problem = _secret_problem(secret, is_turn)
        if problem:
            kind = " --from-literal=type=ephemeral" if is_turn else ""
            raise ConfigError(
                f"{region}: Secret {namespace}/{name} {problem}",
                hint=f"kubectl{context} create namespace {namespace}; kubectl{context} -n "
                f"{namespace} create secret generic {name}{kind} --from-file=secret=<file>",
            )


# GKE provisions a LoadBalancer Service with TCP and UDP on one address (STUNner's
# TURN-UDP + TURN-TCP listeners) only with the backend-service L4 LB, from this version
# (cloud.google.com/kubernetes-engine/docs/how-to/mixed-protocol-lb, "Requirements").
GKE_MIXED_PROTOCOL_MIN: Final = (1, 34, 1, 2190000)


def _gke_version(git_version: str) -> tuple[int, int, int, int] | None:
    match = re.match(r"^v?(\d+)\.(\d+)\.(\d+)-gke\.(\d+)", git_version)
    if not match:
        return None
    major, minor, patch, build = (int(part) for part in match.groups())
    return major, minor, patch, build


def _needs_mixed_protocol_lb(manifests: list[Manifest]) -> bool:
    for doc in manifests:
        if doc["kind"] == "Gateway" and doc["apiVersion"].startswith("gateway.networking.k8s.io/"):
            protocols = {listener.get("protocol") for listener in doc["spec"].get("listeners", [])}
            if {"TURN-UDP", "TURN-DTLS"} & protocols and {"TURN-TCP", "TURN-TLS"} & protocols:
                return True
    return False


def _check_gke_mixed_protocol(
    region: str, version: ServerVersion, manifests: list[Manifest]
) -> None:
    gke = _gke_version(version["gitVersion"])
    if gke is None or not _needs_mixed_protocol_lb(manifests) or gke >= GKE_MIXED_PROTOCOL_MIN:
        return
    raise ConfigError(
        f"{region}: GKE {version['gitVersion']} cannot provision the TURN Service "
        "(TCP and UDP on one load balancer need GKE 1.34.1-gke.2190000 or later)",
        hint="upgrade the cluster, or keep only UDP (or only TCP) TURN listeners in the fleet",
    )


async def preflight_region(
    client: KubeClient, region: str, context: str | None, manifests: list[Manifest]
) -> Preflight:
    version = await client.version()
    minor = int("".join(ch for ch in version["minor"] if ch.isdigit()) or 0)
    if version["major"] == "1" and minor < MIN_MINOR:
        raise ConfigError(
            f"{region}: Kubernetes {version['gitVersion']} is too old (need 1.{MIN_MINOR}+)",
            hint="upgrade the cluster",
        )
    _check_gke_mixed_protocol(region, version, manifests)
    await _check_kinds(client, region, manifests)
    flag = f" --context {context}" if context else ""
    await _check_secrets(client, region, flag, manifests)
    warnings = await _check_gateway_tls(client, region, flag, manifests)
    return Preflight(region, version, tuple(warnings))


async def preflight_all(
    clients: dict[str, KubeClient],
    contexts: dict[str, str | None],
    manifests: dict[str, list[Manifest]],
) -> dict[str, Preflight | BcastError]:
    """Every region at once; a region's problem is its value, never an early stop."""
    regions = list(clients)
    answers = await asyncio.gather(
        *(preflight_region(clients[r], r, contexts.get(r), manifests[r]) for r in regions),
        return_exceptions=True,
    )
    out: dict[str, Preflight | BcastError] = {}
    for region, answer in zip(regions, answers, strict=True):
        if isinstance(answer, Preflight | BcastError):
            out[region] = answer
        elif isinstance(answer, BaseException):
            raise answer
    return out
