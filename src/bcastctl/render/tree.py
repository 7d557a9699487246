"""Write the kustomize tree (base/, overlays/<region>/) and resolved/<region>.yaml.

`resolved/<region>.yaml` holds exactly what deploy applies; `kubectl kustomize
overlays/<region>` builds the same objects. Output is byte-for-byte deterministic.
"""

from __future__ import annotations

import hashlib
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from bcastctl.errors import ConfigError, UsageError
from bcastctl.fleet import Fleet
from bcastctl.render.manifests import base_files, region_manifests
from bcastctl.render.result import RegionRendered, RenderResult

MARKER = ".bcastctl-render"
KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}


class _Dumper(yaml.SafeDumper):
    """Block style for multi-line strings (the NATS config reads as a file)."""


def _str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    style = "|" if "\n" in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


_Dumper.add_representer(str, _str)


def dump_yaml(docs: list[Any]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _prepare(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: exists and is not a directory")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise UsageError(
            f"--out {out}: directory is not empty and was not written by bcastctl render",
            hint="choose an empty or new directory",
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / MARKER).write_text("written by bcastctl render; safe to delete\n", encoding="utf-8")
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot write: {e.strerror}") from e


def _prune(out: Path, keep: set[str]) -> list[str]:
    """Drop overlays and resolved files of regions no longer in the fleet."""
    removed = []
    overlays = out / "overlays"
    for entry in sorted(overlays.iterdir()) if overlays.is_dir() else []:
        if entry.is_dir() and entry.name not in keep:
            shutil.rmtree(entry)
            removed.append(entry.name)
    resolved = out / "resolved"
    for entry in sorted(resolved.glob("*.yaml")) if resolved.is_dir() else []:
        if entry.stem not in keep:
            entry.unlink()
    return removed


def render_tree(fleet: Fleet, out: Path, regions: list[str] | None = None) -> RenderResult:
    names = regions or fleet.region_names
    for name in names:
        fleet.region(name)  # unknown region -> ConfigError with the list of regions
    _prepare(out)
    pruned = _prune(out, set(fleet.region_names)) if not regions else []
    by_file = base_files(fleet)
    for file_name, docs in by_file.items():
        _write(out / "base" / file_name, dump_yaml(docs))
    _write(
        out / "base" / "kustomization.yaml",
        dump_yaml([{**KUSTOMIZATION, "resources": list(by_file)}]),
    )
    rendered = [_write_region(fleet, out, name) for name in names]
    return RenderResult(fleet=fleet.name, out=str(out), regions=rendered, pruned=pruned)


def _write_region(fleet: Fleet, out: Path, name: str) -> RegionRendered:
    manifests = region_manifests(fleet, fleet.region(name))
    overlay = out / "overlays" / name
    for file_name, docs in manifests.files.items():
        _write(overlay / file_name, dump_yaml(docs))
    resources = ["../../base", *manifests.files]
    _write(overlay / "kustomization.yaml", dump_yaml([{**KUSTOMIZATION, "resources": resources}]))
    resolved_text = dump_yaml(manifests.resolved)
    _write(out / "resolved" / f"{name}.yaml", resolved_text)
    kinds = Counter(doc["kind"] for doc in manifests.resolved)
    return RegionRendered(
        region=name,
        objects=len(manifests.resolved),
        kinds=dict(sorted(kinds.items())),
        gateways=[other for other in fleet.region_names if other != name],
        replicas=fleet.region(name).replicas,
        resolved=str(out / "resolved" / f"{name}.yaml"),
        sha256=hashlib.sha256(resolved_text.encode()).hexdigest(),
    )
