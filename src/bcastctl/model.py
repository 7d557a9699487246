"""The one base for frozen pydantic models, and the one type of a Kubernetes object.

- `FrozenModel`: results and reports (values that cross layers; never mutated).
- `StrictModel`: inputs read from files (the fleet file, the lab's state): frozen, and an
  unknown key is an error rather than silently ignored.
- `Manifest`: a Kubernetes object as a data tree (render builds them, deploy applies them).
- `HttpResponse`: one HTTP answer, however it was reached (a Target, the WHIP client).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict

from bcastctl.errors import UnreachableError

Manifest = dict[str, Any]


@dataclass(frozen=True)
class HttpResponse:
    status: int
    body: bytes
    url: str
    headers: Mapping[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The body as JSON; UnreachableError (naming the URL) when it is not JSON."""
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as e:
            raise UnreachableError(
                f"{self.url}: answered HTTP {self.status} with a body that is not JSON"
            ) from e


class FrozenModel(BaseModel):
    model_config = ConfigDict(frozen=True)


class StrictModel(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
