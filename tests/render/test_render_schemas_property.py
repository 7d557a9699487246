"""Every fleet the fleet file's validation accepts renders custom objects their CRDs accept.

`render` does not validate its output against the kept CRD schemas at run time (that cost a
third of its start-up, and a refusal there named a rendered object, not the key of the fleet
file to change). This property is what makes that safe: the fleet model carries every rule of
the upstream CRDs that a fleet value can reach (names, realm, host names, listener names and
ports), so a fleet accepted at load renders objects the real API server accepts; a value the
CRD would refuse is refused at load with the key path the user wrote. The schemas are the
kept copies of the upstream CRDs (see test_render_schemas.py for their sources); a failing
example here is a rule the fleet model is missing.
"""

from __future__ import annotations

from typing import Any

from crd_schemas import crd_problems, is_custom
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bcastctl.errors import ConfigError
from bcastctl.fleet import parse_fleet
from bcastctl.render.manifests import region_manifests

_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


@st.composite
def label(draw: st.DrawFn, max_size: int = 40) -> str:
    """An RFC 1123 label (what the fleet model takes for names)."""
    size = draw(st.integers(min_value=1, max_value=max_size))
    if size == 1:
        return draw(st.sampled_from(_ALNUM))
    middle = draw(st.text(alphabet=_ALNUM + "-", min_size=size - 2, max_size=size - 2))
    return draw(st.sampled_from(_ALNUM)) + middle + draw(st.sampled_from(_ALNUM))


@st.composite
def subdomain(draw: st.DrawFn) -> str:
    """An RFC 1123 subdomain up to the fleet model's 253 characters, long ones included."""
    parts = draw(st.lists(label(max_size=63), min_size=1, max_size=6))
    name = ".".join(parts)
    long_tail = draw(st.booleans())
    while long_tail and len(name) < 240:
        name = f"{draw(label(max_size=63))}.{name}"
    return name[-253:].lstrip(".-") or "a"


def external_gateway(index: int) -> st.SearchStrategy[dict[str, Any]]:
    node_port = st.fixed_dictionaries(
        {
            "mode": st.just("nodePort"),
            "node_port": st.integers(min_value=30000, max_value=32767),
            "addresses": st.just([f"10.{index}.0.1", f"10.{index}.0.2"]),
        }
    )
    load_balancer = st.fixed_dictionaries(
        {"mode": st.just("loadBalancer"), "address": st.just(f"198.51.100.{index + 1}")}
    )
    return node_port | load_balancer


@st.composite
def fleets(draw: st.DrawFn) -> dict[str, Any]:
    names = draw(st.lists(label(), min_size=1, max_size=4, unique=True))
    on_mcs = draw(st.booleans())  # all regions on GKE MCS, or all reached outside it
    regions = [
        {
            "name": name,
            "cluster": {"context": f"ctx-{index}"},
            "geo": {"lat": 0.0, "lon": float(index)},
            "replicas": draw(st.integers(min_value=1, max_value=4)),
            "turn_address": f"192.0.2.{index + 1}",
            "provider": "gke" if on_mcs else draw(st.sampled_from(["gke", "aws", "other"])),
            "gateway": {"mode": "mcs"} if on_mcs else draw(external_gateway(index)),
        }
        for index, name in enumerate(names)
    ]
    listeners = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "name": label(),
                    "protocol": st.sampled_from(["TURN-UDP", "TURN-TCP", "TURN-TLS", "TURN-DTLS"]),
                    "port": st.integers(min_value=1, max_value=65535),
                }
            ),
            min_size=1,
            max_size=3,
            unique_by=lambda listener: listener["name"],
        )
    )
    fleet: dict[str, Any] = {
        "apiVersion": "bcastctl.io/v1alpha1",
        "kind": "Fleet",
        "name": draw(label()),
        "namespace": draw(label()),
        "image": "ghcr.io/example/bcast-node:0.1.0",
        "regions": regions,
        "stunner": {
            "realm": draw(subdomain()),
            "gateway_class": draw(label()),
            "listeners": listeners,
        },
        "nats": {"gateway_port": draw(st.integers(min_value=1, max_value=65535))},
        "node": {"signalling_port": draw(st.integers(min_value=1, max_value=9999))},
        "monitor": {"enabled": draw(st.booleans())},
    }
    if on_mcs and draw(st.booleans()):  # the multi-cluster Gateway reaches MCS regions only
        fleet["signalling"] = {
            "host": draw(subdomain()),
            "config_region": draw(st.sampled_from(names)),
            "certificate_map": draw(label()),
            "region_hosts": draw(st.booleans()),
            "gateway_class": draw(label()),
        }
    return fleet


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(fleets())
def test_an_accepted_fleet_renders_custom_objects_their_crds_accept(data: dict[str, Any]) -> None:
    try:
        fleet = parse_fleet(data)
    except ConfigError:
        assume(False)  # refused at load, with its key path: the user never reaches render
        return
    for region in fleet.regions:
        for doc in region_manifests(fleet, region).resolved:
            if is_custom(doc):
                assert crd_problems(doc) == [], (region.name, doc["kind"])
