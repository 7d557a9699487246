"""How the kube adapter turns API answers and transport failures into BcastErrors.

2xx: the decoded body; 404 on a read that may miss: None; 401/403: the credentials
(exit 4); 409 on apply: a conflict naming the other field manager (exit 1);
connection refused or timed out: unreachable (exit 4), with what was waited for.
"""

from __future__ import annotations

import json
import re
from typing import Any

from bcastctl.errors import OperationFailed, UnreachableError


class KubeApiError(OperationFailed):
    """The API answered with an error we do not turn into a value."""

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class ApplyConflict(KubeApiError):
    """Server-side apply found fields owned by another field manager."""


def status_message(data: bytes) -> str:
    """The `message` of a Kubernetes Status body (or the start of whatever came back)."""
    try:
        body = json.loads(data)
    except ValueError:
        return data[:200].decode("utf-8", "replace").strip() or "no details"
    if isinstance(body, dict) and isinstance(body.get("message"), str):
        return str(body["message"])
    return "no details"


def unreachable(name: str, host: str, timeout_s: float, error: BaseException) -> UnreachableError:
    found = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    if found:
        reason = found[1].strip()
    elif isinstance(error, TimeoutError) or "timed out" in str(error).lower():
        reason = f"no answer within {timeout_s:g} s"
    else:
        reason = type(getattr(error, "reason", None) or error).__name__
    return UnreachableError(
        f"{name}: API server {host} unreachable ({reason})",
        hint="check the cluster is up and the kube context/kubeconfig points at it",
    )


def decode(name: str, method: str, path: str, status: int, data: bytes, missing_ok: bool) -> Any:
    if 200 <= status < 300:
        return json.loads(data) if data.strip() else {}
    if status == 404 and missing_ok:
        return None
    message = status_message(data)
    if status in (401, 403):
        raise UnreachableError(
            f"{name}: the API server refused our credentials (HTTP {status}: {message})",
            hint="refresh the credentials of this kube context (or the GKE token)",
        )
    if status == 409 and method == "PATCH":
        raise ApplyConflict(
            f"{name}: conflict applying {path}: {message}",
            status=status,
            hint="another field manager owns these fields; --force-conflicts takes them over",
        )
    raise KubeApiError(f"{name}: {method} {path} failed (HTTP {status}): {message}", status=status)
