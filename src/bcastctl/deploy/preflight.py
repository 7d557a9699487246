"""Preflight: everything a region needs before anything is written anywhere.

Per region: the API answers (and its version), every API group and kind the manifests
use is served (STUNner, Gateway API and MCS CRDs, with the install command as hint),
and every Secret the manifests reference exists with a `secret` key (values are never
read into output). Problems come back as BcastErrors, one per region at most.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from bcastctl.adapters.kube import KubeClient, Manifest, ServerVersion
from bcastctl.errors import BcastError, ConfigError

INSTALL_HINTS: Final = {
    "gateway.networking.k8s.io": "install the Gateway API CRDs: kubectl apply -f "
    "https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml",
    "stunner.l7mp.io": "install STUNner: helm install stunner-gateway-operator "
    "stunner/stunner-gateway-operator --create-namespace --namespace=stunner-system",
    "net.gke.io": "enable GKE multi-cluster services: gcloud container fleet "
    "multi-cluster-services enable (and register the cluster in the fleet)",
}
MIN_MINOR: Final = 26


@dataclass(frozen=True)
class Preflight:
    region: str
    version: ServerVersion


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


async def _check_secrets(
    client: KubeClient, region: str, context: str, manifests: list[Manifest]
) -> None:
    for namespace, name in sorted(referenced_secrets(manifests)):
        secret = await client.get("v1", "Secret", name, namespace)
        if secret is None or "secret" not in (secret.get("data") or {}):
            problem = "has no key 'secret'" if secret is not None else "is missing"
            raise ConfigError(
                f"{region}: Secret {namespace}/{name} {problem}",
                hint=f"kubectl{context} create namespace {namespace}; kubectl{context} -n "
                f"{namespace} create secret generic {name} --from-file=secret=<file>",
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
    await _check_kinds(client, region, manifests)
    await _check_secrets(client, region, f" --context {context}" if context else "", manifests)
    return Preflight(region, version)


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
