"""The static flow check: the rendered NetworkPolicies admit every flow the system needs,
keep the admin port closed to everything outside the namespace, and a policy changed to
block a flow is named with the flow, the policy and the port (one test per flow).

NetworkPolicy semantics: kubernetes.io/docs/concepts/services-networking/network-policies/
(a selected pod accepts only what some rule admits; podSelector alone = this namespace;
"traffic to and from the node where a Pod is running is always allowed", hence kubelet
probes are checked only for aiming at a declared port). STUNner's dataplane pods carry
`app: stunner` (stunner-gateway-operator internal/renderer/dataplane_util.go). On GKE the
API server reaches pods through konnectivity agents in kube-system (issue 11 point 3).
"""

from __future__ import annotations

import copy
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bcastctl.cli.main import run
from bcastctl.fleet import load_fleet
from bcastctl.flows import region_flow_problems
from bcastctl.render import template
from bcastctl.render.manifests import region_manifests

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fleet.yaml"
FLEET = load_fleet(EXAMPLE)
REGION = "us-east5"
OBJECTS = region_manifests(FLEET, FLEET.region(REGION)).resolved


def _policy(objects: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(
        d for d in objects if d["kind"] == "NetworkPolicy" and d["metadata"]["name"] == name
    )


def _rule_with_port(policy: dict[str, Any], port: int) -> dict[str, Any]:
    for rule in policy["spec"]["ingress"]:
        if any(entry.get("port") == port for entry in rule.get("ports", [])):
            rule_: dict[str, Any] = rule
            return rule_
    raise AssertionError(f"no rule for port {port}")


def _without_kube_system(rule: dict[str, Any]) -> None:
    rule["from"] = [peer for peer in rule["from"] if "namespaceSelector" not in peer]


def _drop_port(policy: dict[str, Any], port: int) -> None:
    """Remove the rule that admits `port` (a rule left with no ports would admit every port)."""
    policy["spec"]["ingress"].remove(_rule_with_port(policy, port))


def _problems(change: Callable[[list[dict[str, Any]]], None]) -> list[str]:
    objects = copy.deepcopy(OBJECTS)
    change(objects)
    return [problem.line() for problem in region_flow_problems(FLEET, REGION, objects)]


def test_the_rendered_example_fleet_admits_every_needed_flow() -> None:
    for region in FLEET.regions:
        objects = region_manifests(FLEET, region).resolved
        assert region_flow_problems(FLEET, region.name, objects) == []


node = FLEET.node
nats = FLEET.nats
BLOCKS = [
    (
        "signalling closed",
        lambda o: _drop_port(_policy(o, "broadcaster"), node.signalling_port),
        "clients -> signalling: TCP 8080 of broadcaster pods blocked by NetworkPolicy broadcaster",
    ),
    (
        "media from the wrong pods",
        lambda o: _rule_with_port(_policy(o, "broadcaster"), node.rtc_port_min)["from"][0][
            "podSelector"
        ]["matchLabels"].update(app="turn"),
        "TURN relay -> node media: UDP 10000-10999 of broadcaster pods blocked by "
        "NetworkPolicy broadcaster",
    ),
    (
        "media range cut short",
        lambda o: _rule_with_port(_policy(o, "broadcaster"), node.rtc_port_min)["ports"][0].update(
            endPort=10499
        ),
        "TURN relay -> node media: UDP 10500-10999 of broadcaster pods blocked",
    ),
    (
        "admin only from the namespace (the old policy)",
        lambda o: _without_kube_system(_rule_with_port(_policy(o, "broadcaster"), node.admin_port)),
        "bcastctl -> node admin: TCP 9090 of broadcaster pods blocked by NetworkPolicy broadcaster",
    ),
    (
        "gateway only from this namespace",
        lambda o: _rule_with_port(_policy(o, "nats"), nats.gateway_port).update(
            {"from": [{"podSelector": {}}]}
        ),
        "other regions -> NATS gateway: TCP 7222 of NATS pods blocked by NetworkPolicy nats",
    ),
    (
        "clients only from NATS pods",
        lambda o: _rule_with_port(_policy(o, "nats"), nats.client_port).update(
            {"from": [{"podSelector": {"matchLabels": {"app.kubernetes.io/name": "nats"}}}]}
        ),
        "node -> NATS client: TCP 4222 of NATS pods blocked by NetworkPolicy nats",
    ),
    (
        "routes closed",
        lambda o: _drop_port(_policy(o, "nats"), nats.cluster_port),
        "NATS <-> NATS routes: TCP 6222 of NATS pods blocked by NetworkPolicy nats",
    ),
    (
        "monitor only from the namespace",
        lambda o: _without_kube_system(_rule_with_port(_policy(o, "nats"), nats.monitor_port)),
        "bcastctl -> NATS monitor: TCP 8222 of NATS pods blocked by NetworkPolicy nats",
    ),
    (
        "admin opened to everyone",
        lambda o: _rule_with_port(_policy(o, "broadcaster"), node.admin_port).pop("from"),
        "outside the namespace -> node admin (must stay closed): TCP 9090 of broadcaster pods "
        "reachable from a pod of another namespace (NetworkPolicy broadcaster)",
    ),
    (
        "admin policy deleted",
        lambda o: o.remove(_policy(o, "broadcaster")),
        "internet -> node admin (must stay closed): TCP 9090 of broadcaster pods reachable from "
        "the internet (no NetworkPolicy selects them)",
    ),
    (
        "NATS clients opened to the internet",
        lambda o: _rule_with_port(_policy(o, "nats"), nats.client_port).pop("from"),
        "internet -> NATS client (must stay closed): TCP 4222 of NATS pods reachable",
    ),
    (
        "probe on an undeclared port",
        lambda o: next(
            d for d in o if d["kind"] == "StatefulSet" and d["metadata"]["name"] == f"{REGION}-nats"
        )["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"].update(
            port="metrics"
        ),
        "kubelet -> us-east5-nats readinessProbe: port 'metrics' is not a port of container nats",
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), BLOCKS, ids=[b[0] for b in BLOCKS])
def test_a_policy_that_blocks_a_flow_is_named_with_the_flow_and_port(
    case: str, change: Callable[[list[dict[str, Any]]], None], expected: str
) -> None:
    problems = _problems(change)
    assert any(expected in problem for problem in problems), problems


def test_render_refuses_blocking_policies_with_exit_1_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The policies render writes come from templates/; a template that blocks a flow stops
    render before the first file (the old namespace-only admin rule, for instance)."""
    templates = tmp_path / "templates"
    shutil.copytree(template.TEMPLATES_DIR, templates)
    policy = templates / "base" / "networkpolicy.yaml"
    policy.write_text(
        policy.read_text().replace(
            "        - namespaceSelector:\n            matchLabels:\n"
            "              kubernetes.io/metadata.name: kube-system\n",
            "",
        )
    )
    monkeypatch.setattr(template, "TEMPLATES_DIR", templates)
    template._parsed.cache_clear()
    try:
        code = run(["--fleet", str(EXAMPLE), "render", "--out", str(tmp_path / "out")])
    finally:
        template._parsed.cache_clear()
    err = capsys.readouterr().err
    assert code == 1
    lines = [line for line in err.splitlines() if "bcastctl ->" in line]
    assert len(lines) == 6  # admin and monitor, in each of the three regions
    assert "us-east5: bcastctl -> node admin: TCP 9090 of broadcaster pods blocked" in err
    assert not (tmp_path / "out").exists()
