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
from datetime import UTC, datetime, timedelta
from typing import Final

from bcastctl.adapters.kube import Manifest
from bcastctl.render.nats_config import GATEWAY_TLS_DIR

TLS_WARN_DAYS: Final = 14
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


def _not_after(pem_b64: str, key: str) -> tuple[datetime, datetime] | str:
    from cryptography import x509

    try:
        pem = base64.b64decode(pem_b64, validate=True)
        cert = x509.load_pem_x509_certificate(pem)
    except (binascii.Error, ValueError):
        return f"{key} is not a PEM certificate"
    return cert.not_valid_before_utc, cert.not_valid_after_utc


def tls_verdict(secret: Manifest | None, now: datetime | None = None) -> TlsVerdict:
    """What is wrong with a gateway TLS Secret (never quoting its values)."""
    if secret is None:
        return TlsVerdict("is missing", None)
    data = secret.get("data") or {}
    missing = [key for key in TLS_KEYS if key not in data]
    if missing:
        return TlsVerdict(f"has no key {', '.join(missing)}", None)
    now = now or datetime.now(tz=UTC)
    soonest: tuple[datetime, str] | None = None
    for key in ("tls.crt", "ca.crt"):
        validity = _not_after(str(data[key]), key)
        if isinstance(validity, str):
            return TlsVerdict(validity, None)
        not_before, not_after = validity
        if not_after <= now:
            return TlsVerdict(f"{key} expired on {not_after:%Y-%m-%d %H:%M} UTC", None)
        if not_before > now:
            return TlsVerdict(f"{key} is not valid before {not_before:%Y-%m-%d %H:%M} UTC", None)
        if soonest is None or not_after < soonest[0]:
            soonest = (not_after, key)
    assert soonest is not None
    not_after, key = soonest
    if not_after - now < timedelta(days=TLS_WARN_DAYS):
        days = (not_after - now).total_seconds() / 86400
        return TlsVerdict(
            None, f"{key} expires in {days:.1f} days ({not_after:%Y-%m-%d %H:%M} UTC)"
        )
    return TlsVerdict(None, None)
