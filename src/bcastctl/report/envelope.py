"""One way to print a command's result: its human view, or a versioned JSON/YAML envelope.

The envelope is `{"apiVersion": "bcastctl.io/v1", "kind": <Kind>, "result": {...}}`;
tests/report/test_envelope_contract.py pins its keys. A human view is a rich renderable
(`emit`), or plain aligned text where that says it all (`emit_text`: no rich to load).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bcastctl.model import FrozenModel, to_data

if TYPE_CHECKING:
    from rich.console import Console, RenderableType

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
    text = _data_text(output, kind, result)
    if text is not None:
        console.file.write(text)
    else:
        console.print(table(result))


def emit_text(output: str, kind: str, result: FrozenModel, view: Callable[[Any], str]) -> None:
    """Print `result` on stdout in the chosen format; its human view is plain text."""
    text = _data_text(output, kind, result)
    sys.stdout.write(text if text is not None else view(result))


def _data_text(output: str, kind: str, result: FrozenModel) -> str | None:
    """The envelope as JSON or YAML text (None: the human view was asked for)."""
    if output == "json":
        return json.dumps(envelope(kind, result), indent=2) + "\n"
    if output == "yaml":
        import yaml

        return yaml.safe_dump(envelope(kind, result), sort_keys=False)
    return None
