"""render of the fleets beyond GKE multi-cluster services (issue 18): examples/multicloud.yaml
(two GKE regions on MCS + one EKS region over a load balancer) and examples/do.yaml (two
DigitalOcean regions over NodePorts).

Every region's gateway list names each peer by the address the peer's mode gives (read
back from the rendered ConfigMap text, against the addresses written in the example
files), nats-server accepts every rendered config (`-t`: a gateway's several node
addresses are one `urls` list, server/opts.go parseGateways), every object validates, and
`kubectl kustomize` builds exactly the resolved objects.

Provider annotations, from the providers' docs (render/reach.py cites them): GKE's
backend-service L4 LB for TURN (`cloud.google.com/l4-rbs`, docs/how-to/mixed-protocol-lb),
GKE internal LB (`networking.gke.io/load-balancer-type: Internal`); the AWS Load Balancer
Controller's NLB (`service.beta.kubernetes.io/aws-load-balancer-type: external`,
`aws-load-balancer-nlb-target-type: ip`, `aws-load-balancer-scheme`,
kubernetes-sigs.github.io/aws-load-balancer-controller guide/service/nlb).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from crd_schemas import crd_problems, is_custom

from bcastctl.cli.main import run
from bcastctl.lab.binaries import nats_server_binary
from bcastctl.lab.gateway_tls import issue, new_ca
from bcastctl.render.manifests import object_key
from bcastctl.render.nats_config import GATEWAY_TLS_DIR

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
K8S_VERSION = "1.33.0"
MULTI = ["us-east5", "europe-west9", "us-west-2"]
DO = ["nyc1", "sgp1"]
MCS = "broadcaster.svc.clusterset.local"
# region -> peer -> the URLs it must dial, as the example files give the peers' addresses
EXPECTED_GATEWAYS = {
    "multicloud": {
        "us-east5": {
            "europe-west9": [f"nats://europe-west9-nats-gateway.{MCS}:7222"],
            "us-west-2": ["nats://gw.us-west-2.bcast.example.com:7222"],
        },
        "europe-west9": {
            "us-east5": [f"nats://us-east5-nats-gateway.{MCS}:7222"],
            "us-west-2": ["nats://gw.us-west-2.bcast.example.com:7222"],
        },
        "us-west-2": {  # outside MCS: the GKE regions' public load balancers
            "us-east5": ["nats://34.23.10.20:7222"],
            "europe-west9": ["nats://34.155.20.30:7222"],
        },
    },
    "do": {
        "nyc1": {"sgp1": [f"nats://10.104.0.{i}:30722" for i in (2, 3, 4)]},
        "sgp1": {"nyc1": [f"nats://10.116.0.{i}:30722" for i in (2, 3, 4)]},
    },
}
REGIONS = {"multicloud": MULTI, "do": DO}
CASES = [(example, region) for example, regions in REGIONS.items() for region in regions]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = {}
    for example in REGIONS:
        target = tmp_path_factory.mktemp(example) / "out"
        fleet = EXAMPLES / f"{example}.yaml"
        assert run(["-q", "--fleet", str(fleet), "render", "--out", str(target)]) == 0
        out[example] = target
    return out


def _docs(out: Path, region: str) -> list[dict[str, Any]]:
    text = (out / "resolved" / f"{region}.yaml").read_text()
    return [doc for doc in yaml.safe_load_all(text) if doc]


def _one(docs: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == kind and d["metadata"]["name"] == name)


def _gateway_list(conf: str) -> dict[str, list[str]]:
    """name -> URLs of the `gateways: [...]` entries of a NATS config text."""
    block = conf.split("gateways: [", 1)[1].split("\n  ]", 1)[0]
    found: dict[str, list[str]] = {}
    for entry in re.finditer(r"\{ name: ([a-z0-9-]+), (url|urls): (.*) \}", block):
        found[entry.group(1)] = re.findall(r'"(nats://[^"]+)"', entry.group(3))
    return found


@pytest.mark.parametrize(("example", "region"), CASES)
def test_every_region_dials_each_peer_at_the_address_its_mode_gives(
    rendered: dict[str, Path], example: str, region: str
) -> None:
    config_map = _one(_docs(rendered[example], region), "ConfigMap", f"{region}-nats-config")
    assert _gateway_list(config_map["data"]["nats.conf"]) == EXPECTED_GATEWAYS[example][region]


@pytest.mark.slow  # runs nats-server (-t: parse only)
@pytest.mark.parametrize(("example", "region"), CASES)
def test_nats_server_accepts_every_rendered_config(
    rendered: dict[str, Path], example: str, region: str, tmp_path: Path
) -> None:
    config_map = _one(_docs(rendered[example], region), "ConfigMap", f"{region}-nats-config")
    text = config_map["data"]["nats.conf"]
    if GATEWAY_TLS_DIR in text:  # the gateway TLS Secret, as its volume would hold it
        ca, ca_key = new_ca()
        cert, key = issue(ca, ca_key, region, ["127.0.0.1"], 30)
        for name, content in {"tls.crt": cert, "tls.key": key, "ca.crt": ca}.items():
            (tmp_path / name).write_text(content)
        text = text.replace(GATEWAY_TLS_DIR, str(tmp_path))
    config = tmp_path / "nats.conf"
    config.write_text(text)
    env = {**os.environ, "POD_NAME": f"{region}-nats-0"}
    for name in re.findall(r"\$(NATS_[A-Z_]+)", config_map["data"]["nats.conf"]):
        env[name] = "pw1234abcd"
    checked = subprocess.run(
        [str(nats_server_binary()), "-c", str(config), "-t"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr + checked.stdout


def test_gateway_services_follow_each_mode_and_only_mcs_regions_export(
    rendered: dict[str, Path],
) -> None:
    for region in ("us-east5", "europe-west9"):  # MCS, and a public LB for the EKS region
        docs = _docs(rendered["multicloud"], region)
        service = _one(docs, "Service", f"{region}-nats-gateway")
        assert service["spec"]["type"] == "LoadBalancer"
        assert "annotations" not in service["metadata"]  # GKE: public is the default
        exports = {d["metadata"]["name"] for d in docs if d["kind"] == "ServiceExport"}
        assert exports == {f"{region}-nats-gateway", f"{region}-broadcaster-headless"}
    eks = _docs(rendered["multicloud"], "us-west-2")
    service = _one(eks, "Service", "us-west-2-nats-gateway")
    assert service["spec"]["type"] == "LoadBalancer"
    assert service["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
    }
    assert [d for d in eks if d["kind"] == "ServiceExport"] == []
    for region in DO:
        docs = _docs(rendered["do"], region)
        service = _one(docs, "Service", f"{region}-nats-gateway")
        assert service["spec"]["type"] == "NodePort"
        assert service["spec"]["ports"][0]["nodePort"] == 30722
        assert [d for d in docs if d["kind"] == "ServiceExport"] == []


def test_turn_gateway_asks_each_provider_for_its_udp_load_balancer(
    rendered: dict[str, Path],
) -> None:
    def annotations(example: str, region: str) -> dict[str, str]:
        gateway = _one(_docs(rendered[example], region), "Gateway", f"{region}-turn-gateway")
        return dict(gateway["metadata"]["annotations"])

    stunner = {
        "stunner.l7mp.io/service-type": "LoadBalancer",
        "stunner.l7mp.io/enable-mixed-protocol-lb": "true",
    }
    assert annotations("multicloud", "us-east5") == {
        **stunner,
        "cloud.google.com/l4-rbs": "enabled",
    }
    assert annotations("multicloud", "us-west-2") == {
        **stunner,
        "service.beta.kubernetes.io/aws-load-balancer-type": "external",
        "service.beta.kubernetes.io/aws-load-balancer-nlb-target-type": "ip",
        "service.beta.kubernetes.io/aws-load-balancer-scheme": "internet-facing",
    }
    assert annotations("do", "nyc1") == stunner  # a plain LoadBalancer elsewhere


@pytest.mark.parametrize(("example", "region"), CASES)
def test_every_object_validates(rendered: dict[str, Path], example: str, region: str) -> None:
    for doc in _docs(rendered[example], region):
        if is_custom(doc):
            assert crd_problems(doc) == [], doc["metadata"]["name"]
        else:
            kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


@pytest.mark.kubectl
@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed"
)
@pytest.mark.parametrize(("example", "region"), CASES)
def test_kustomize_builds_exactly_the_resolved_objects(
    rendered: dict[str, Path], example: str, region: str
) -> None:
    out = rendered[example]
    built = subprocess.run(
        ["kubectl", "kustomize", str(out / "overlays" / region)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    kustomized = {object_key(doc): doc for doc in yaml.safe_load_all(built) if doc}
    resolved = {object_key(doc): doc for doc in _docs(out, region)}
    assert kustomized == resolved


def test_regions_reached_outside_mcs_advertise_that_address(rendered: dict[str, Path]) -> None:
    """A gateway tells the others its `advertise` address (nats-server server/opts.go
    parseGateway); without it, it gossips its pod address, which no other network dials."""

    def advertised(example: str, region: str) -> list[str]:
        docs = _docs(rendered[example], region)
        conf = _one(docs, "ConfigMap", f"{region}-nats-config")["data"]["nats.conf"]
        return re.findall(r'^  advertise: "([^"]+)"$', conf, re.MULTILINE)

    assert advertised("multicloud", "us-west-2") == ["gw.us-west-2.bcast.example.com:7222"]
    assert advertised("multicloud", "us-east5") == ["34.23.10.20:7222"]  # its external LB
    assert advertised("do", "nyc1") == ["10.116.0.2:30722"]
