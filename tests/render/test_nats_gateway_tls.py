"""fleet.nats.gateway_tls: rendered mutual TLS on the gateways, run by real nats-servers.

Certificates come from openssl (a CA, one certificate per region naming the address the
others dial); the rendered config reads them from GATEWAY_TLS_DIR, which this test moves
to a directory per region, as a Secret volume would be mounted. nats-server
(server/opts.go parseGateway `tls`, gateway.go): with gateway TLS configured, a server
dials and accepts gateways over TLS only; `verify: true` asks the dialling side for a
certificate from the CA.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcastctl.fleet import Fleet, GatewayTls
from bcastctl.model import replace
from bcastctl.render.manifests import region_manifests
from bcastctl.render.nats_config import GATEWAY_TLS_DIR
from nats_testkit import (
    RENDERED_HOSTS,
    RENDERED_PASSWORDS,
    RenderedServer,
    gateways_connected,
    rendered_fleet,
    rendered_text,
    start_rendered,
    wait_for,
)

OPENSSL = shutil.which("openssl")
# inbound gateway connections come from an ephemeral port of 127.0.0.1 (outbound: the peer)
INBOUND_TLS_ERROR = re.compile(r"127\.0\.0\.1:\d+ - gid:\d+ - TLS gateway handshake error")
pytestmark = [
    pytest.mark.skipif(OPENSSL is None, reason="openssl is not installed"),
    pytest.mark.slow,  # starts NATS servers
]


def with_tls(fleet: Fleet) -> Fleet:
    nats = replace(fleet.nats, gateway_tls=GatewayTls(secret="bcast-nats-gateway-tls"))
    return replace(fleet, nats=nats)


FLEET = with_tls(rendered_fleet())


def openssl(*args: str, cwd: Path) -> None:
    assert OPENSSL is not None
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True)


def certificates(directory: Path, regions: list[str]) -> dict[str, Path]:
    """A CA and, per region, a directory with tls.crt / tls.key / ca.crt (a TLS Secret)."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=ca",
            "-keyout", "ca.key", "-out", "ca.crt", cwd=directory)  # fmt: skip
    out = {}
    for region in regions:
        mount = directory / region
        mount.mkdir()
        ip = RENDERED_HOSTS[region]
        (directory / f"{region}.ext").write_text(
            f"subjectAltName=IP:{ip}\nextendedKeyUsage=serverAuth,clientAuth\n"
        )
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={region}",
                "-keyout", f"{region}/tls.key", "-out", f"{region}.csr", cwd=directory)  # fmt: skip
        openssl("x509", "-req", "-in", f"{region}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "1", "-extfile", f"{region}.ext",
                "-out", f"{region}/tls.crt", cwd=directory)  # fmt: skip
        shutil.copy(directory / "ca.crt", mount / "ca.crt")
        out[region] = mount
    return out


def tls_text(region: str, mount: Path) -> str:
    return rendered_text(FLEET, region).replace(GATEWAY_TLS_DIR, str(mount))


TlsFabric = tuple[dict[str, RenderedServer], dict[str, Path]]


@pytest.fixture(scope="module")
def tls_fabric(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsFabric]:
    """r1 and r2 over TLS gateways; and every region's certificate directory."""
    directory = tmp_path_factory.mktemp("gateway-tls")
    mounts = certificates(directory, ["r1", "r2", "r3"])
    servers: dict[str, RenderedServer] = {}
    try:
        for region in ("r1", "r2"):
            text = tls_text(region, mounts[region])
            servers[region] = start_rendered(directory, FLEET, region, text, RENDERED_PASSWORDS)
        for region, other in (("r1", "r2"), ("r2", "r1")):
            wait_for(
                f"{region}'s TLS gateway to {other}",
                lambda s=servers[region], o=other: gateways_connected(s.gatewayz(), [o]),
            )
        yield servers, mounts
    finally:
        for server in servers.values():
            server.stop()


def test_the_nats_pod_mounts_the_gateway_tls_secret_where_the_config_reads_it() -> None:
    docs = region_manifests(FLEET, FLEET.region("r1")).resolved
    nats = next(
        d for d in docs if d["kind"] == "StatefulSet" and d["metadata"]["name"] == "r1-nats"
    )
    pod = nats["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "gateway-tls")
    assert volume["secret"]["secretName"] == "bcast-nats-gateway-tls"
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "gateway-tls")
    assert mount["mountPath"] == GATEWAY_TLS_DIR and mount["readOnly"] is True
    assert f'cert_file: "{GATEWAY_TLS_DIR}/tls.crt"' in rendered_text(FLEET, "r1")


def test_tls_gateways_connect_and_a_plaintext_gateway_is_refused(
    tls_fabric: TlsFabric, tmp_path: Path
) -> None:
    """r3 has the gateway password but no TLS (the config without its `tls {}`): r1 refuses
    it; with its certificate, the same r3 joins."""
    servers, mounts = tls_fabric
    plain = rendered_text(rendered_fleet_like(FLEET), "r3")
    assert "tls {" not in plain
    impostor = start_rendered(tmp_path, FLEET, "r3", plain, RENDERED_PASSWORDS, "-plain")
    try:
        wait_for(  # its dial into r1 fails the TLS handshake (r1's inbound side)
            "r1 to refuse a plaintext gateway",
            lambda: INBOUND_TLS_ERROR.search(servers["r1"].log.read_text()),
            15,
        )
        assert "r3" not in (servers["r1"].gatewayz().get("inbound_gateways") or {})
    finally:
        impostor.stop()
    joined = start_rendered(
        tmp_path, FLEET, "r3", tls_text("r3", mounts["r3"]), RENDERED_PASSWORDS, "-tls"
    )
    try:
        wait_for(
            "r1 and r3 over TLS",
            lambda: gateways_connected(servers["r1"].gatewayz(), ["r3"]),
            15,
        )
    finally:
        joined.stop()


def rendered_fleet_like(fleet: Fleet) -> Fleet:
    """The same fleet without gateway TLS (same ports)."""
    return replace(fleet, nats=replace(fleet.nats, gateway_tls=None))
