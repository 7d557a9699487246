"""Write the kustomize tree (base/, overlays/<region>/) and resolved/<region>.yaml.

`resolved/<region>.yaml` holds exactly what deploy applies; `kubectl kustomize
overlays/<region>` builds the same objects. Output is byte-for-byte deterministic.
"""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from bcastctl.errors import ConfigError, OperationFailed, UsageError
from bcastctl.fleet import Fleet
from bcastctl.flows import region_flow_problems
from bcastctl.render.manifests import RegionManifests, base_files, region_manifests
from bcastctl.render.result import RegionRendered, RenderResult

MARKER = ".bcastctl-render"
KUSTOMIZATION = {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization"}


# libyaml's emitter where PyYAML has it (the same bytes, a third of render's run time saved);
# the pure-Python one otherwise. The same as in yamlsafe.py for the parser.
if TYPE_CHECKING:
    _Base = yaml.SafeDumper
else:
    _Base = getattr(yaml, "CSafeDumper", yaml.SafeDumper)

_TAG = "tag:yaml.org,2002:"


class _Dumper(_Base):
    """SafeDumper's nodes for a manifest tree (dict, list, str, int, bool, None), made in
    one pass instead of through the representer table (half of writing the YAML); block
    style for multi-line strings (the NATS config reads as a file); anything else (floats)
    as SafeDumper represents it. Manifests share no objects, so no anchors are lost."""

    def represent_data(self, data: Any) -> yaml.Node:
        kind = type(data)
        if kind is str:
            return yaml.ScalarNode(_TAG + "str", data, style="|" if "\n" in data else None)
        if kind is dict:
            pairs = [(self.represent_data(k), self.represent_data(v)) for k, v in data.items()]
            return yaml.MappingNode(_TAG + "map", pairs, flow_style=False)
        if kind is list:
            items = [self.represent_data(item) for item in data]
            return yaml.SequenceNode(_TAG + "seq", items, flow_style=False)
        if kind is bool:
            return yaml.ScalarNode(_TAG + "bool", "true" if data else "false")
        if kind is int:
            return yaml.ScalarNode(_TAG + "int", str(data))
        if data is None:
            return yaml.ScalarNode(_TAG + "null", "null")
        return super().represent_data(data)


def dump_yaml(docs: list[Any]) -> str:
    return yaml.dump_all(docs, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)


class _Texts:
    """Each object's YAML text made once, however many files hold it (its overlay or base
    file, and every resolved file): a file is its objects' texts joined as `dump_all` joins
    them. Keyed by identity: the objects live as long as the render."""

    def __init__(self) -> None:
        self._by_id: dict[int, str] = {}

    def of(self, docs: list[Any]) -> str:
        texts = []
        for doc in docs:
            text = self._by_id.get(id(doc))
            if text is None:
                text = self._by_id[id(doc)] = dump_yaml([doc])
            texts.append(text)
        return "---\n".join(texts)


def _refuse_links(out: Path, relative: Path) -> None:
    """Every existing part of `relative` under `out` must be a real directory or file."""
    path = out
    for part in relative.parts:
        path = path / part
        if path.is_symlink():
            raise UsageError(
                f"--out {out}: {path.relative_to(out)} is a symbolic link; "
                "render never writes through links",
                hint="remove the link or choose another directory",
            )


def _write(out: Path, relative: str, text: str) -> None:
    """Write one file of the tree; never through a symbolic link."""
    target = Path(relative)
    _refuse_links(out, target)
    try:
        (out / target).parent.mkdir(parents=True, exist_ok=True)
        _refuse_links(out, target)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(out / target, flags, 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot write {relative}: {e.strerror}") from e


def _prepare(out: Path) -> None:
    try:
        if out.exists() and not out.is_dir():
            raise UsageError(f"--out {out}: exists and is not a directory")
        if out.is_dir() and any(out.iterdir()) and not (out / MARKER).is_file():
            raise UsageError(
                f"--out {out}: directory is not empty and was not written by bcastctl render",
                hint="choose an empty or new directory",
            )
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot write: {e.strerror}") from e
    _write(out, MARKER, "written by bcastctl render; safe to delete\n")


def _prune(out: Path, keep: set[str]) -> list[str]:
    """Drop overlays and resolved files of regions no longer in the fleet."""

    for name in ("overlays", "resolved"):
        _refuse_links(out, Path(name))
    removed = []
    overlays = out / "overlays"
    try:
        for entry in sorted(overlays.iterdir()) if overlays.is_dir() else []:
            _refuse_links(out, entry.relative_to(out))
            if entry.is_dir() and entry.name not in keep:
                import shutil  # only here: it loads the compression modules

                shutil.rmtree(entry)
                removed.append(entry.name)
        resolved = out / "resolved"
        for entry in sorted(resolved.glob("*.yaml")) if resolved.is_dir() else []:
            _refuse_links(out, entry.relative_to(out))
            if entry.stem not in keep:
                entry.unlink()
    except OSError as e:
        raise ConfigError(f"--out {out}: cannot prune: {e.strerror}") from e
    return removed


def render_tree(fleet: Fleet, out: Path, regions: list[str] | None = None) -> RenderResult:
    """Render everything in memory, check its flows, then write the tree (nothing on failure)."""
    names = regions or fleet.region_names
    for name in names:
        fleet.region(name)  # unknown region -> ConfigError with the list of regions
    by_file = base_files(fleet)
    base = [doc for docs in by_file.values() for doc in docs]
    manifests = {name: region_manifests(fleet, fleet.region(name), base) for name in names}
    _check(fleet, manifests)
    _prepare(out)
    pruned = _prune(out, set(fleet.region_names)) if not regions else []
    texts = _Texts()
    for file_name, docs in by_file.items():
        _write(out, f"base/{file_name}", texts.of(docs))
    _write(
        out, "base/kustomization.yaml", dump_yaml([{**KUSTOMIZATION, "resources": list(by_file)}])
    )
    rendered = [_write_region(fleet, out, manifests[name], texts) for name in names]
    return RenderResult(fleet=fleet.name, out=str(out), regions=rendered, pruned=pruned)


def _check(fleet: Fleet, manifests: dict[str, RegionManifests]) -> None:
    """The flows the NetworkPolicies must let through: before any write.

    The custom objects are not validated against their CRDs here: the fleet model carries
    every CRD rule a fleet value can reach, so a value a CRD would refuse is refused at load
    with its key path (tests/render/test_render_schemas_property.py holds that for any fleet).
    """
    blocked = [
        f"{name}: {problem.line()}"
        for name, region in manifests.items()
        for problem in region_flow_problems(fleet, name, region.resolved)
    ]
    if blocked:
        raise OperationFailed(
            "\n".join(blocked),
            hint="the NetworkPolicies must admit these flows; nothing was written",
        )


def _write_region(
    fleet: Fleet, out: Path, manifests: RegionManifests, texts: _Texts
) -> RegionRendered:
    name = manifests.region
    for file_name, docs in manifests.files.items():
        _write(out, f"overlays/{name}/{file_name}", texts.of(docs))
    resources = ["../../base", *manifests.files]
    _write(
        out,
        f"overlays/{name}/kustomization.yaml",
        dump_yaml([{**KUSTOMIZATION, "resources": resources}]),
    )
    resolved_text = texts.of(manifests.resolved)
    _write(out, f"resolved/{name}.yaml", resolved_text)
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
