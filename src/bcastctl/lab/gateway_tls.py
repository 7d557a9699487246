"""The lab's gateway TLS Secret (`fleet.nats.gateway_tls`): a CA of its own and, per region,
a certificate for the addresses the other regions' NATS dial in the lab (the delay links
towards that region) and, for a region on MCS, its clusterset gateway name (the URL host its
MCS peers dial, which their NATS verifies the certificate against), usable as server and
client certificate (mutual TLS), written as the Secret's keys (tls.crt, tls.key, ca.crt)
into the NATS pod's directory where the rendered pod mounts the Secret. The CA is kept in
the state dir (ca.crt, ca.key) so that tests can issue other certificates (an expiring
one, one from another CA) and restart NATS on them.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from bcastctl.exposure import on_mcs
from bcastctl.fleet import Fleet
from bcastctl.lab.addresses import LabPlan
from bcastctl.targets.lab_state import GATEWAY_CA_FILE

CERT_DAYS: Final = 30


def _name(common_name: str) -> Any:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _pem(cert: Any, key: Any) -> tuple[str, str]:
    from cryptography.hazmat.primitives import serialization

    cert_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    return cert_pem, key_pem


def new_ca(common_name: str = "bcastctl lab gateway CA", days: float = 365) -> tuple[str, str]:
    """(certificate PEM, key PEM) of a new CA."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(tz=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    return _pem(cert, key)


def issue(
    ca_pem: str, ca_key_pem: str, name: str, hosts: list[str], days: float
) -> tuple[str, str]:
    """(certificate PEM, key PEM) for `hosts` (IP addresses and DNS names, as SANs), server
    and client auth, signed by the CA, valid for `days` from now."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID

    ca = x509.load_pem_x509_certificate(ca_pem.encode())
    ca_key = serialization.load_pem_private_key(ca_key_pem.encode(), password=None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(tz=UTC)
    sans = [_san(host) for host in hosts]
    usage = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(name))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.ExtendedKeyUsage(usage), critical=False)
        .sign(ca_key, hashes.SHA256())  # type: ignore[arg-type]
    )
    return _pem(cert, key)


def _san(host: str) -> Any:
    from cryptography import x509

    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def dialled_hosts(plan: LabPlan, fleet: Fleet, region: str) -> list[str]:
    """The addresses the lab's NATS servers dial to reach `region`: its delay links (and
    its own host, where its gateway listens), and on MCS its clusterset gateway name."""
    own = next(r.host for r in plan.regions if r.name == region)
    links = [link.listen_host for r in plan.regions for link in r.links if link.to_region == region]
    names = [fleet.clusterset_names(region)["nats-gateway"]] if on_mcs(fleet.region(region)) else []
    return sorted({own, *links}) + names


def gateway_tls_files(plan: LabPlan, fleet: Fleet, state_dir: Path) -> dict[str, dict[str, str]]:
    """Region -> Secret key -> content, with a new lab CA stored in the state dir."""
    ca_pem, ca_key_pem = new_ca()
    ca_path = state_dir / GATEWAY_CA_FILE
    ca_path.parent.mkdir(parents=True, exist_ok=True)
    ca_path.write_text(ca_pem)
    key_path = ca_path.with_name("ca.key")
    key_path.touch(mode=0o600)
    key_path.write_text(ca_key_pem)
    files: dict[str, dict[str, str]] = {}
    for region in plan.regions:
        cert, key = issue(
            ca_pem, ca_key_pem, region.name, dialled_hosts(plan, fleet, region.name), CERT_DAYS
        )
        files[region.name] = {"tls.crt": cert, "tls.key": key, "ca.crt": ca_pem}
    return files
