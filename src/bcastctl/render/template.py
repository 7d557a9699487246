"""Templates as parsed YAML trees; fleet values are placed into scalars, never into text.

A template file is parsed once, before any value is known. A placeholder `${name}` may
only appear inside a string scalar: a scalar that is exactly `${name}` takes the value
itself (an int stays an int), otherwise the value's text replaces the placeholder inside
that one string. Whatever a value contains (quotes, newlines, `: `), it stays one scalar:
no fleet value can add a key, an item or a document.
"""

from __future__ import annotations

import copy
import re
from functools import cache
from pathlib import Path
from typing import Any

from bcastctl.yamlsafe import safe_load_all_unique


def _templates_dir() -> Path:
    """bcastctl/templates in an installed wheel (the build's include rule puts it there);
    the repository's top-level templates/ when running from a source checkout."""
    package = Path(__file__).resolve().parent.parent
    packaged = package / "templates"
    return packaged if packaged.is_dir() else package.parent.parent / "templates"


TEMPLATES_DIR = _templates_dir()

Scalar = str | int | float | bool
_WHOLE = re.compile(r"^\$\{([a-z_]+)\}$")
_PART = re.compile(r"\$\{([a-z_]+)\}")


@cache
def _parsed(relative: str) -> tuple[Any, ...]:
    text = (TEMPLATES_DIR / relative).read_text(encoding="utf-8")
    return tuple(doc for doc in safe_load_all_unique(text) if doc)


def load(relative: str, values: dict[str, Scalar]) -> list[dict[str, Any]]:
    """The objects of one template file with `values` placed into its scalars."""
    return [place(copy.deepcopy(doc), values) for doc in _parsed(relative)]


def place(node: Any, values: dict[str, Scalar]) -> Any:
    if isinstance(node, dict):
        return {key: place(value, values) for key, value in node.items()}
    if isinstance(node, list):
        return [place(item, values) for item in node]
    if isinstance(node, str):
        whole = _WHOLE.match(node)
        if whole:
            return values[whole.group(1)]
        return _PART.sub(lambda match: str(values[match.group(1)]), node)
    return node


def placeholders(relative: str) -> set[str]:
    """Every placeholder name a template uses (tests check each one is supplied)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, str):
            found.update(_PART.findall(node))

    for doc in _parsed(relative):
        walk(doc)
    return found
