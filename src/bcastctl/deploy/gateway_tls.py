"""Preflight of the NATS gateway TLS Secret (`fleet.nats.gateway_tls`): it exists in the
region, holds `tls.crt`, `tls.key` and `ca.crt` (a `kubernetes.io/tls` Secret with the CA
added), and neither certificate is expired or not yet valid; one expiring within
TLS_WARN_DAYS gives a warning. nats-server refuses to start on a missing or unreadable
file and a peer refuses an expired certificate (server/opts.go parseTLS, crypto/tls), so
these are found before anything is written. Certificates are public; the key is never
read beyond its presence.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from bcastctl.adapters.kube import Manifest
from bcastctl.readers.certificates import TLS_WARN_DAYS as TLS_WARN_DAYS
from bcastctl.readers.certificates import judge_validity, load_pem
from bcastctl.render.nats_config import GATEWAY_TLS_DIR

TLS_KEYS: Final = ("tls.crt", "tls.key", "ca.crt")


@dataclass(frozen=True)
class TlsVerdict:
    problem: str | None  # refuses the deploy
    warning: str | None  # shown, deploy goes on


def gateway_tls_secrets(manifests: list[Manifest]) -> set[tuple[str, str]]:
    """(namespace, name) of the Secrets mounted where nats.conf's gateway `tls {}` reads."""
    found: set[tuple[str, str]] = set()
    for doc in manifests:
        if doc["kind"] != "StatefulSet":
            continue
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod.get("volumes") or []}
        for container in pod.get("containers") or []:
            for mount in container.get("volumeMounts") or []:
                secret = volumes.get(mount["name"], {}).get("secret")
                if mount.get("mountPath") == GATEWAY_TLS_DIR and secret:
                    found.add((doc["metadata"].get("namespace", ""), secret["secretName"]))
    return found


def tls_verdict(secret: Manifest | None, now: datetime | None = None) -> TlsVerdict:
    """What is wrong with a gateway TLS Secret (never quoting its values)."""
    if secret is None:
        return TlsVerdict("is missing", None)
    data = secret.get("data") or {}
    missing = [key for key in TLS_KEYS if key not in data]
    if missing:
        return TlsVerdict(f"has no key {', '.join(missing)}", None)
    now = now or datetime.now(tz=UTC)
    warnings: list[str] = []
    for key in ("tls.crt", "ca.crt"):
        try:
            cert = load_pem(base64.b64decode(str(data[key]), validate=True))
        except binascii.Error:
            cert = None
        if cert is None:
            return TlsVerdict(f"{key} is not a PEM certificate", None)
        judged = judge_validity(cert, key, now)
        if judged.problem:
            return TlsVerdict(judged.problem, None)
        if judged.warning:
            warnings.append(judged.warning)
    return TlsVerdict(None, "; ".join(warnings) or None)
