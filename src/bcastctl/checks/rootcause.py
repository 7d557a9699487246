"""Root-cause summary: link failures across layers to the fewest underlying problems.

The layers, deepest first: region reachability -> clusterset DNS -> NATS gateway
links -> node liveness / cluster secret -> membership, registry, media. A cut
gateway link explains a membership partition between its regions and a failed
cross-region media pair; an unresolvable clusterset name explains the gateway
link that dials it. A failure is attributed to causes only when they explain all
of it (a node missing one peer that is down and rejecting another with a wrong
secret is explained by both). Failures nothing explains are listed as their own
causes, so the summary always accounts for every failure.

Reads only documented result values: pair scopes "A->B" (nats-gateways, mcs-dns,
media), membership node results (`region`, `missing`, `missing_regions`,
`rejected`, `unreachable`), membership fleet `split_pairs`, registry
`disagrees_with_regions`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bcastctl.checks.base import CheckResult, Status
from bcastctl.checks.report import RootCause

Key = tuple[str, str]  # (kind, subject): ("link", "a|b"), ("down", node), ("secret", node), ...


def _strs(result: CheckResult, key: str) -> list[str]:
    value = result.values.get(key)
    return [str(item) for item in value] if isinstance(value, list) else []


def _link(a: str, b: str) -> Key:
    return ("link", "|".join(sorted((a, b))))


@dataclass
class _Facts:
    unreachable: set[str]
    cut: set[Key]  # gateway links that failed
    dns: dict[Key, str] = field(default_factory=dict)  # link -> mcs-dns result id
    down: set[str] = field(default_factory=set)  # nodes that do not answer
    node_region: dict[str, str] = field(default_factory=dict)


def _facts(failures: Sequence[CheckResult], unreachable: set[str]) -> _Facts:
    facts = _Facts(
        unreachable=unreachable,
        cut={
            _link(*r.regions)
            for r in failures
            if r.check == "nats-gateways" and r.scope_kind == "pair"
        },
    )
    for r in failures:
        if r.check == "mcs-dns" and r.scope_kind == "pair":
            facts.dns[_link(*r.regions)] = r.id
        if r.check == "membership" and r.scope_kind == "node":
            if r.values.get("unreachable"):
                facts.down.add(r.scope)
            for name, region in zip(_strs(r, "missing"), _strs(r, "missing_regions"), strict=False):
                facts.node_region[name] = region
    return facts


def _reasons(result: CheckResult, facts: _Facts) -> set[Key] | None:
    """The causes that together explain the whole failure, or None if something is left over."""
    touched = set(result.regions) | ({result.scope} if result.scope_kind == "region" else set())
    if touched & facts.unreachable:
        return {("region", region) for region in touched & facts.unreachable}
    if result.scope_kind == "pair":
        link = _link(*result.regions)
        if result.check == "mcs-dns":
            return None  # DNS is the deepest layer we see: a cause of its own
        return {link} if link in facts.cut else None
    if result.scope_kind == "fleet" and result.check == "membership":
        links = {_link(*p.split("<->")) for p in _strs(result, "split_pairs")}
        return links if links and links <= facts.cut else None
    if result.values.get("unreachable"):
        return {("down", result.scope)}
    return _node_reasons(result, facts)


def _node_reasons(result: CheckResult, facts: _Facts) -> set[Key] | None:
    region = str(result.values.get("region", ""))
    reasons: set[Key] = {("secret", name) for name in _strs(result, "rejected")}
    for name, far in zip(_strs(result, "missing"), _strs(result, "missing_regions"), strict=False):
        if name in facts.down:
            reasons.add(("down", name))
        elif _link(region, far) in facts.cut:
            reasons.add(_link(region, far))
        else:
            return None
    for far in _strs(result, "disagrees_with_regions"):
        if _link(region, far) not in facts.cut:
            return None
        reasons.add(_link(region, far))
    return reasons or None


def _describe(key: Key, facts: _Facts) -> RootCause:
    kind, subject = key
    if kind == "region":
        return RootCause(cause=f"region {subject} is unreachable", layer="region", explains=[])
    if kind == "down":
        return RootCause(
            cause=f"node {subject} is down (its admin endpoint does not answer)",
            layer="node",
            explains=[],
            hint=f"look at {subject}'s logs and restarts",
        )
    if kind == "secret":
        return RootCause(
            cause=f"node {subject} signs heartbeats with a different cluster secret",
            layer="secret",
            explains=[],
            hint=f"give {subject} the fleet's cluster secret, or stop it",
        )
    a, b = subject.split("|")
    if key in facts.dns:
        return RootCause(
            cause=f"clusterset names do not resolve between {a} and {b}, so their NATS "
            "gateway link cannot dial",
            layer="dns",
            explains=[facts.dns[key]],
            hint="check the ServiceExport/ServiceImport of the gateway service",
        )
    return RootCause(
        cause=f"NATS gateway link {a} <-> {b} is down",
        layer="nats",
        explains=[],
        hint="check the network path and the gateway ports between these regions",
    )


def root_causes(results: Sequence[CheckResult], unreachable: dict[str, str]) -> list[RootCause]:
    """The fewest causes that explain every failed result, deepest layer first."""
    failures = [r for r in results if r.status == Status.fail]
    facts = _facts(failures, set(unreachable))
    order = {"region": 0, "link": 1, "down": 2, "secret": 3}
    explained: dict[Key, list[str]] = {}
    leftovers: list[RootCause] = []
    for result in failures:
        reasons = _reasons(result, facts)
        if reasons is not None:
            for key in reasons:
                explained.setdefault(key, []).append(result.id)
        elif not (result.check == "mcs-dns" and _link(*result.regions) in facts.cut):
            leftovers.append(
                RootCause(
                    cause=f"{result.check} in {result.scope}: {result.message}",
                    layer=result.check,
                    explains=[result.id],
                    hint=result.hint,
                )
            )
    causes: list[RootCause] = []
    for key in sorted(explained, key=lambda k: (order[k[0]], k[1])):
        cause = _describe(key, facts)
        update: dict[str, object] = {"explains": cause.explains + explained[key]}
        if key[0] == "region":
            update["cause"] = f"region {key[1]} is unreachable: {unreachable[key[1]]}"
        causes.append(cause.model_copy(update=update))
    return causes + leftovers
