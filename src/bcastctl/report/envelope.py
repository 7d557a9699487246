"""One way to print a command's result: a rich table, or a versioned JSON/YAML envelope.

The envelope is `{"apiVersion": "bcastctl.io/v1", "kind": <Kind>, "result": {...}}`;
tests/report/test_envelope_contract.py pins its keys.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from rich.console import Console, RenderableType

from bcastctl.model import FrozenModel, to_data

ENVELOPE_API_VERSION = "bcastctl.io/v1"


def envelope(kind: str, result: FrozenModel | dict[str, Any]) -> dict[str, Any]:
    data = to_data(result) if isinstance(result, FrozenModel) else result
    return {"apiVersion": ENVELOPE_API_VERSION, "kind": kind, "result": data}


def emit(
    console: Console,
    output: str,
    kind: str,
    result: FrozenModel,
    table: Callable[[Any], RenderableType],
) -> None:
    """Print `result` on stdout in the chosen format."""
    if output == "json":
        console.file.write(json.dumps(envelope(kind, result), indent=2) + "\n")
    elif output == "yaml":
        import yaml

        console.file.write(yaml.safe_dump(envelope(kind, result), sort_keys=False))
    else:
        console.print(table(result))
