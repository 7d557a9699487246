"""Fleet files for tests against fake clusters: examples/fleet.yaml aimed at kmock contexts."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import yaml

from bcastctl.fleet import Secrets
from fakes.clusters import ClusterSet

EXAMPLES = Path(__file__).resolve().parent.parent.parent / "examples"
SECRET_VALUE = "s3cr3t-do-not-print"
REGIONS = ["us-east5", "europe-west9", "asia-southeast1"]


def fleet_document(
    kubeconfig: Path,
    image: str = "ghcr.io/example/bcast-node:1.0.0",
    regions: list[str] | None = None,
) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load((EXAMPLES / "fleet.yaml").read_text())
    document["image"] = image
    base = {r["name"]: r for r in document["regions"]}
    chosen = regions or REGIONS
    document["regions"] = []
    for index, name in enumerate(chosen):
        region = dict(base.get(name) or {"name": name, "geo": {"lat": 0.0, "lon": float(index)}})
        region["name"] = name
        region["cluster"] = {"context": f"kmock-{name}", "kubeconfig": str(kubeconfig)}
        region["replicas"] = 2
        document["regions"].append(region)
    document["rollout"] = {"order": chosen, "canary": chosen[0], "timeout_s": 20}
    if "signalling" in document:  # the config cluster is one of the chosen regions
        document["signalling"]["config_region"] = chosen[0]
    return document


def write_fleet(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return path


def seed_secrets(
    clusters: ClusterSet,
    cluster: str,
    namespace: str = "broadcaster",
    skip: tuple[str, ...] = (),
    turn_type_value: str | None = "ephemeral",
) -> None:
    """What an operator does before the first deploy: namespace and Secrets."""
    clusters.seed(
        cluster,
        "namespaces",
        None,
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": namespace},
            "status": {"phase": "Active"},
        },
    )
    value = base64.b64encode(SECRET_VALUE.encode()).decode()
    # STUNner reads the auth type from the Secret (stunner docs/AUTH.md)
    turn_type = (
        {}
        if turn_type_value is None
        else {"type": base64.b64encode(turn_type_value.encode()).decode()}
    )
    for name in Secrets().names():
        if name in skip:
            continue
        clusters.seed(
            cluster,
            "secrets",
            namespace,
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "type": "Opaque",
                "metadata": {"name": name, "namespace": namespace},
                "data": {"secret": value, **turn_type}
                if name == "bcast-turn-secret"
                else {"secret": value},
            },
        )


def envelope(stdout: str) -> Any:
    return json.loads(stdout)["result"]
