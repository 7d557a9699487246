"""X.509 certificates as the fleet's gateway TLS uses them: one reading of a PEM, one rule
for "expired / not yet valid / expiring soon" (TLS_WARN_DAYS), and whether a certificate
was issued by a CA and names an address. Deploy's preflight (the Secret) and verify's
gateway-reach (what a gateway presents) both judge with these."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

TLS_WARN_DAYS: Final = 14


@dataclass(frozen=True)
class Judgement:
    problem: str | None  # the certificate cannot work
    warning: str | None  # it works, for now


def load_pem(pem: bytes | str) -> Any | None:
    """The certificate, or None when `pem` is not a PEM certificate."""
    from cryptography import x509

    try:
        return x509.load_pem_x509_certificate(pem.encode() if isinstance(pem, str) else pem)
    except ValueError:
        return None


def judge_validity(cert: Any, what: str, now: datetime) -> Judgement:
    """Expired or not yet valid: a problem; expiring within TLS_WARN_DAYS: a warning."""
    not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    if not_after <= now:
        return Judgement(f"{what} expired on {not_after:%Y-%m-%d %H:%M} UTC", None)
    if not_before > now:
        return Judgement(f"{what} is not valid before {not_before:%Y-%m-%d %H:%M} UTC", None)
    if not_after - now < timedelta(days=TLS_WARN_DAYS):
        days = (not_after - now).total_seconds() / 86400
        return Judgement(
            None, f"{what} expires in {days:.1f} days ({not_after:%Y-%m-%d %H:%M} UTC)"
        )
    return Judgement(None, None)


def issued_by(cert: Any, ca: Any) -> bool:
    """Whether `ca` signed `cert` (the chain crypto/tls would build, one level)."""
    from cryptography.exceptions import InvalidSignature

    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def names_host(cert: Any, host: str) -> bool:
    """Whether the certificate's subjectAltName covers `host` (an IP or a DNS name)."""
    from cryptography import x509

    try:
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        wanted = host.lower().rstrip(".")
        for name in sans.get_values_for_type(x509.DNSName):
            name = name.lower().rstrip(".")
            if name == wanted or (name.startswith("*.") and wanted.partition(".")[2] == name[2:]):
                return True
        return False
    return address in sans.get_values_for_type(x509.IPAddress)
