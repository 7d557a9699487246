"""The kube checks' verdicts on Kubernetes objects, table-driven, no API server.

Object shapes are the Kubernetes API's: StatefulSet status (readyReplicas,
updatedReplicas, currentRevision/updateRevision), Gateway API Gateway status
(conditions[type=Programmed], addresses[].value), GKE MCS ServiceExport status
(conditions[type=Exported]), HTTPRoute status (parents[].conditions: Accepted,
ResolvedRefs; kubernetes-sigs/gateway-api apis/v1).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bcastctl.adapters.kube import ServerVersion
from bcastctl.checks.kube_cluster import too_old
from bcastctl.checks.kube_mcs import PROPAGATION_S, export_settled, exported
from bcastctl.checks.kube_signalling import gateway_problem, route_problem
from bcastctl.checks.kube_stunner import not_programmed
from bcastctl.checks.kube_workloads import statefulset_problem
from bcastctl.targets.kube import gateway_address


def sts(replicas: int, ready: int, updated: int, revisions: tuple[str, str] = ("r1", "r1")) -> Any:
    return {
        "spec": {"replicas": replicas},
        "status": {"readyReplicas": ready, "updatedReplicas": updated,
                   "currentRevision": revisions[0], "updateRevision": revisions[1]},
    }  # fmt: skip


STATEFULSETS = [
    ("ready", sts(3, 3, 3), None),
    ("missing", None, "StatefulSet x missing"),
    ("not all ready", sts(3, 2, 3), "StatefulSet x: 2/3 ready"),
    ("rollout in progress", sts(3, 3, 1), "StatefulSet x: 1/3 updated (rollout in progress)"),
    ("revision not yet current", sts(2, 2, 2, ("r1", "r2")),
     "StatefulSet x: 2/2 updated (rollout in progress)"),
    ("status not written yet", {"spec": {"replicas": 1}}, "StatefulSet x: 0/1 ready"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "obj", "problem"), STATEFULSETS, ids=[s[0] for s in STATEFULSETS])
def test_statefulset_problem(case: str, obj: Any, problem: str | None) -> None:
    assert statefulset_problem("x", obj) == problem


VERSIONS = [("1", "25", True), ("1", "26", False), ("1", "30+", False), ("1", "25+", True),
            ("2", "0", False)]  # fmt: skip


@pytest.mark.parametrize(("major", "minor", "old"), VERSIONS)
def test_too_old(major: str, minor: str, old: bool) -> None:
    version = ServerVersion(major=major, minor=minor, gitVersion=f"v{major}.{minor}.0")
    assert too_old(version) is old


def gateway(status: str | None, reason: str = "", address: str | None = None) -> Any:
    conditions = [{"type": "Programmed", "status": status, "reason": reason}] if status else []
    addresses = [{"type": "IPAddress", "value": address}] if address else []
    return {"status": {"conditions": conditions, "addresses": addresses}}


GATEWAYS = [
    ("programmed with an address", gateway("True", "Programmed", "34.1.2.3"), None, "34.1.2.3"),
    ("pending", gateway("False", "Pending"), "Pending", None),
    ("no condition yet", gateway(None), "no Programmed condition", None),
    ("programmed, no address yet", gateway("True", "Programmed"), None, None),
]  # fmt: skip


@pytest.mark.parametrize(("case", "obj", "why", "address"), GATEWAYS, ids=[g[0] for g in GATEWAYS])
def test_gateway_programmed_and_address(
    case: str, obj: Any, why: str | None, address: str | None
) -> None:
    assert not_programmed(obj) == why
    assert gateway_address(obj) == address


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def export(exported_status: str | None, age_s: float | None) -> Any:
    meta = (
        {}
        if age_s is None
        else {"creationTimestamp": (NOW - timedelta(seconds=age_s)).strftime("%Y-%m-%dT%H:%M:%SZ")}
    )
    conditions = [{"type": "Exported", "status": exported_status}] if exported_status else []
    return {"metadata": meta, "status": {"conditions": conditions}}  # fmt: skip


EXPORTS = [
    ("exported long ago", export("True", PROPAGATION_S + 60), True, True),
    ("exported a minute ago: its import may not exist yet", export("True", 60), True, False),
    ("not exported", export("False", PROPAGATION_S + 60), False, True),
    ("no creation time: settled", export(None, None), False, True),
    ("no export at all", None, False, False),
]  # fmt: skip


@pytest.mark.parametrize(("case", "obj", "is_exported", "settled"), EXPORTS,
                         ids=[e[0] for e in EXPORTS])  # fmt: skip
def test_export_exported_and_settled(case: str, obj: Any, is_exported: bool, settled: bool) -> None:
    assert exported(obj) is is_exported
    assert export_settled(obj, NOW) is settled


def entry_gateway(programmed: bool, address: str | None) -> Any:
    conditions = [{"type": "Programmed", "status": "True" if programmed else "False"}]
    return {
        "status": {"conditions": conditions, "addresses": [{"value": address}] if address else []}
    }


def route(*parents: dict[str, str]) -> Any:
    """An HTTPRoute whose parents' conditions are given as {type: status}."""
    listed = [{"conditions": [{"type": t, "status": s} for t, s in p.items()]} for p in parents]
    return {"status": {"parents": listed}}


SIGNALLING_GATEWAYS = [
    ("programmed with an address", entry_gateway(True, "34.1.2.3"), None),
    ("missing", None, "Gateway g missing"),
    ("not programmed", entry_gateway(False, None),
     "Gateway g not Programmed (the global load balancer is not provisioned)"),
    ("programmed, no address", entry_gateway(True, None), "Gateway g has no address"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "obj", "problem"), SIGNALLING_GATEWAYS,
                         ids=[g[0] for g in SIGNALLING_GATEWAYS])  # fmt: skip
def test_signalling_gateway_problem(case: str, obj: Any, problem: str | None) -> None:
    assert gateway_problem("g", obj) == problem


ROUTES = [
    ("accepted, refs resolved", route({"Accepted": "True", "ResolvedRefs": "True"}), None),
    ("missing", None, "HTTPRoute r missing"),
    ("no parent yet", route(), "HTTPRoute r not accepted by any Gateway yet"),
    ("not accepted", route({"Accepted": "False", "ResolvedRefs": "True"}),
     "HTTPRoute r: Accepted is not True"),
    ("a backend unresolved", route({"Accepted": "True", "ResolvedRefs": "False"}),
     "HTTPRoute r: ResolvedRefs is not True"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "obj", "problem"), ROUTES, ids=[r[0] for r in ROUTES])
def test_signalling_route_problem(case: str, obj: Any, problem: str | None) -> None:
    assert route_problem("r", obj) == problem
