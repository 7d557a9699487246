"""The kept schemas of the custom kinds are at least as strict as the upstream CRDs.

Each mutation below is refused by the upstream CRD's openAPIV3Schema (read from the
sources): l7mp/stunner-gateway-operator config/crd/bases/stunner.l7mp.io_gatewayconfigs.yaml
and stunner.l7mp.io_udproutes.yaml; kubernetes-sigs/gateway-api
config/crd/standard/gateway.networking.k8s.io_{gatewayclasses,gateways,httproutes}.yaml.
Before this change our schemas accepted every one of them (issue 11 point 8).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from crd_schemas import crd_problems, is_custom

from bcastctl.fleet import load_fleet
from bcastctl.render.manifests import region_manifests

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml"
K8S_VERSION = "1.33.0"


def _four_regions() -> Any:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["regions"].append(
        {
            "name": "southamerica-east1",
            "cluster": {"context": "sa"},
            "geo": {"lat": -23.5, "lon": -46.6},
            "turn_address": "34.95.1.2",
        }
    )
    from bcastctl.fleet import parse_fleet

    return parse_fleet(data)


FLEETS = {"example": load_fleet(EXAMPLE), "four-regions": _four_regions()}


def _objects() -> list[tuple[str, dict[str, Any]]]:
    found = []
    for label, fleet in FLEETS.items():
        for region in fleet.regions:
            for doc in region_manifests(fleet, region).resolved:
                name = f"{label}/{region.name}/{doc['kind']}/{doc['metadata']['name']}"
                found.append((name, doc))
    return found


OBJECTS = _objects()


@pytest.mark.parametrize(("name", "doc"), OBJECTS, ids=[name for name, _ in OBJECTS])
def test_every_rendered_object_validates(name: str, doc: dict[str, Any]) -> None:
    if is_custom(doc):
        assert crd_problems(doc) == []
    else:
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)


def _first(kind: str) -> dict[str, Any]:
    return copy.deepcopy(next(doc for _, doc in OBJECTS if doc["kind"] == kind))


def _set(doc: dict[str, Any], path: list[str | int], value: object) -> dict[str, Any]:
    node: Any = doc
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return doc


MUTATIONS = [
    ("realm with upper case and underscore", "GatewayConfig", ["spec", "realm"], "Stunner_Realm"),
    ("unknown auth type", "GatewayConfig", ["spec", "authType"], "token"),
    ("authRef namespace not a label", "GatewayConfig", ["spec", "authRef", "namespace"], "Bad_NS"),
    ("unknown GatewayConfig field", "GatewayConfig", ["spec", "authTypo"], "x"),
    ("listener protocol with a space", "Gateway", ["spec", "listeners", 0, "protocol"], "TURN UDP"),
    ("listener name with upper case", "Gateway", ["spec", "listeners", 0, "name"], "Turn"),
    ("listener port out of range", "Gateway", ["spec", "listeners", 0, "port"], 70000),
    (
        "parametersRef namespace not a label",
        "GatewayClass",
        ["spec", "parametersRef", "namespace"],
        "Bad_NS",
    ),
    ("parametersRef kind with a dot", "GatewayClass", ["spec", "parametersRef", "kind"], "a.b"),
    (
        "UDPRoute backend weight (not in STUNner's UDPRoute)",
        "UDPRoute",
        ["spec", "rules", 0, "backendRefs", 0, "weight"],
        1,
    ),
    (
        "UDPRoute backend namespace not a label",
        "UDPRoute",
        ["spec", "rules", 0, "backendRefs", 0, "namespace"],
        "Bad_NS",
    ),
    ("UDPRoute without rules", "UDPRoute", ["spec", "rules"], []),
    ("ServiceExport with a spec field", "ServiceExport", ["spec"], {"ports": [1]}),
    ("name not DNS-1123", "ServiceExport", ["metadata", "name"], "Bad_Name"),
]


@pytest.mark.parametrize(
    ("case", "kind", "path", "value"), MUTATIONS, ids=[m[0] for m in MUTATIONS]
)
def test_mutations_the_upstream_crds_refuse_are_refused(
    case: str, kind: str, path: list[str | int], value: object
) -> None:
    doc = _first(kind)
    assert crd_problems(doc) == []
    problems = crd_problems(_set(doc, path, value))
    assert problems, case
    assert problems[0].startswith(f"{kind}/")
