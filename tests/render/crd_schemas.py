"""Schemas the tests keep for the custom kinds render builds (STUNner, Gateway API, GKE MCS).

Built-in Kubernetes kinds are validated against the upstream schemas (kubernetes-validate);
these cover the CRD kinds those schemas do not know, each at least as strict as its upstream
CRD's openAPIV3Schema (the sources are named in each file and in test_render_schemas.py).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

SCHEMAS_DIR = Path(__file__).resolve().parent / "crds"


def schema_file(api_version: str, kind: str) -> Path:
    group, _, version = api_version.rpartition("/")
    return SCHEMAS_DIR / f"{kind.lower()}.{group}.{version}.json"


@cache
def crd_schema(api_version: str, kind: str) -> dict[str, Any] | None:
    path = schema_file(api_version, kind)
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def crd_problems(doc: dict[str, Any]) -> list[str]:
    """Schema violations of one custom object, as `Kind/name: path: message` lines."""
    import jsonschema

    schema = crd_schema(doc.get("apiVersion", ""), doc.get("kind", ""))
    if schema is None:
        return [f"{doc.get('kind')}: no schema kept for {doc.get('apiVersion')}"]
    validator = jsonschema.Draft202012Validator(schema)
    name = doc.get("metadata", {}).get("name", "?")
    return [
        f"{doc['kind']}/{name}: {'.'.join(str(p) for p in error.absolute_path) or '<root>'}: "
        f"{error.message}"
        for error in sorted(validator.iter_errors(doc), key=lambda e: list(e.absolute_path))
    ]


CUSTOM_GROUPS = ("gateway.networking.k8s.io", "stunner.l7mp.io", "net.gke.io", "networking.gke.io")


def is_custom(doc: dict[str, Any]) -> bool:
    return str(doc.get("apiVersion", "")).split("/")[0] in CUSTOM_GROUPS


def custom_problems(docs: list[dict[str, Any]]) -> list[str]:
    """Schema violations of every custom object among `docs` (render refuses to write them)."""
    return [problem for doc in docs if is_custom(doc) for problem in crd_problems(doc)]
