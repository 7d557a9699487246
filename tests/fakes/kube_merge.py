"""Kubernetes API paths, label selectors and the JSON merging the fake API server does.

Server-side apply is modelled on leaf paths: each manager owns the leaves it applied
(lists are atomic, a simplification of SSA's list keys); a leaf it stops applying is
removed; a leaf another manager owns with a different value is a conflict.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

Obj = dict[str, Any]
Path = tuple[str, ...]
SYSTEM_META = ("resourceVersion", "uid", "creationTimestamp", "generation", "managedFields")


def parse_kube_path(
    path: str,
) -> tuple[str | None, str | None, str | None, str | None, str | None, str | None]:
    """(group, version, plural, namespace, name, subresource) of a Kubernetes API path."""
    parts = [p for p in path.strip("/").split("/") if p != ""]
    if len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    elif len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    else:
        return None, None, None, None, None, None
    namespace = None
    namespace_subresource = len(rest) == 3 and rest[2] in ("status", "finalize")
    if len(rest) >= 3 and rest[0] == "namespaces" and not namespace_subresource:
        namespace, rest = rest[1], rest[2:]
    plural = rest[0] if rest else None
    name = rest[1] if len(rest) > 1 else None
    sub = "/".join(rest[2:]) or None
    return group, version, plural, namespace, name, sub


def selector_matches(selector: str, labels: dict[str, str]) -> bool:
    for term in filter(None, (t.strip() for t in re.split(r",(?![^(]*\))", selector))):
        if m := re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\((.*)\)", term):
            values = {v.strip() for v in m[3].split(",")}
            if (labels.get(m[1]) in values) != (m[2] == "in"):
                return False
        elif m := re.fullmatch(r"([\w./-]+)\s*(==|=|!=)\s*([\w./-]*)", term):
            equal = labels.get(m[1]) == m[3]
            if equal != (m[2] != "!="):
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def leaves(value: Any, prefix: Path = ()) -> Iterator[tuple[Path, Any]]:
    """Leaf paths of a JSON value; lists are atomic (a simplification of SSA list keys)."""
    if isinstance(value, dict) and value:
        for k, v in value.items():
            if prefix == ("metadata",) and k in SYSTEM_META:
                continue
            yield from leaves(v, (*prefix, k))
    elif prefix:
        yield prefix, value


def lookup(obj: Any, path: Path) -> Any:
    for part in path:
        if not isinstance(obj, dict) or part not in obj:
            return KeyError
        obj = obj[part]
    return obj


def remove(obj: Obj, path: Path) -> None:
    parents = [obj]
    for part in path[:-1]:
        nxt = parents[-1].get(part)
        if not isinstance(nxt, dict):
            return
        parents.append(nxt)
    parents[-1].pop(path[-1], None)
    for parent, part in zip(reversed(parents[:-1]), reversed(path[:-1]), strict=True):
        if parent.get(part) == {}:
            parent.pop(part)


def merge(base: Any, patch: Any) -> Any:
    """JSON merge patch (RFC 7386): dicts merge, None deletes, everything else replaces."""
    if not isinstance(patch, dict) or not isinstance(base, dict):
        return copy.deepcopy(patch)
    result = dict(base)
    for k, v in patch.items():
        if v is None:
            result.pop(k, None)
        else:
            result[k] = merge(base.get(k), v)
    return result
