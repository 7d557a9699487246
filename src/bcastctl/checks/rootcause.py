"""Root-cause summary: link failures across layers to the fewest underlying problems.

The layers, deepest first: region reachability -> clusterset DNS -> NATS gateway
links -> node liveness / cluster secret -> membership, registry, media. A cut
gateway link explains a membership partition between its regions and a failed
cross-region media pair; an unresolvable clusterset name explains the gateway
link that dials it. Failures nothing explains are listed as their own causes, so
the summary always accounts for every failure.

Reads only the documented result values: nats-gateways/mcs-dns/media pair
results (scope "A->B"), membership node results (`region`, `missing`,
`missing_regions`, `rejected`, `unreachable`), and turn's `error_code`.
"""

from __future__ import annotations

from collections.abc import Sequence

from bcastctl.checks.base import CheckResult, Status
from bcastctl.checks.report import RootCause

LINKED_BY_GATEWAY = ("membership", "registry", "media")


def _strs(result: CheckResult, key: str) -> list[str]:
    value = result.values.get(key)
    return [str(item) for item in value] if isinstance(value, list) else []


def _cut_links(failures: Sequence[CheckResult]) -> set[frozenset[str]]:
    return {
        frozenset(result.regions)
        for result in failures
        if result.check == "nats-gateways" and result.scope_kind == "pair"
    }


def _links_involved(result: CheckResult) -> set[frozenset[str]] | None:
    """The region pairs a membership/registry/media failure is about; None if not link-shaped."""
    if result.scope_kind == "pair":
        return {frozenset(result.regions)}
    if result.scope_kind == "fleet" and result.check == "membership":
        return {frozenset(p.split("<->")) for p in _strs(result, "split_pairs")} or None
    regions = result.regions
    if not regions or _strs(result, "rejected") or result.values.get("unreachable"):
        return None
    far = _strs(result, "missing_regions") + _strs(result, "disagrees_with_regions")
    return {frozenset((regions[0], other)) for other in far} or None


def _explained_by_link(
    result: CheckResult, link: frozenset[str], links: set[frozenset[str]]
) -> bool:
    """True when cut links explain the whole failure and `link` is one of them."""
    involved = _links_involved(result)
    return involved is not None and involved <= links and link in involved


def _link_causes(failures: Sequence[CheckResult]) -> list[RootCause]:
    links = _cut_links(failures)
    dns = {
        frozenset(r.regions): r for r in failures if r.check == "mcs-dns" and r.scope_kind == "pair"
    }
    causes: list[RootCause] = []
    for link in sorted(links, key=sorted):
        a, b = sorted(link)
        explains = [
            r.id
            for r in failures
            if (r.check == "nats-gateways" and frozenset(r.regions) == link)
            or (r.check in LINKED_BY_GATEWAY and _explained_by_link(r, link, links))
        ]
        if link in dns:
            explains.insert(0, dns[link].id)
            causes.append(
                RootCause(
                    cause=f"a clusterset name does not resolve between {a} and {b}, "
                    f"so their NATS gateway link cannot dial",
                    layer="dns",
                    explains=explains,
                    hint="check the ServiceExport/ServiceImport of the gateway service",
                )
            )
            continue
        causes.append(
            RootCause(
                cause=f"NATS gateway link {a} <-> {b} is down",
                layer="nats",
                explains=explains,
                hint="check the network path and the gateway ports between these regions",
            )
        )
    return causes


def _node_causes(failures: Sequence[CheckResult]) -> list[RootCause]:
    causes: list[RootCause] = []
    membership = [r for r in failures if r.check == "membership" and r.scope_kind == "node"]
    down = sorted(r.scope for r in membership if r.values.get("unreachable"))
    for node in down:
        explains = [
            r.id
            for r in membership
            if r.scope == node or (_strs(r, "missing") == [node] and not _strs(r, "rejected"))
        ]
        causes.append(
            RootCause(
                cause=f"node {node} is down (its admin endpoint does not answer)",
                layer="node",
                explains=explains,
                hint=f"look at {node}'s logs and restarts",
            )
        )
    rejected = sorted({name for r in membership for name in _strs(r, "rejected")})
    for node in rejected:
        explains = [
            r.id for r in membership if node in _strs(r, "rejected") and not _strs(r, "missing")
        ]
        causes.append(
            RootCause(
                cause=f"node {node} signs heartbeats with a different cluster secret",
                layer="secret",
                explains=explains,
                hint=f"give {node} the fleet's cluster secret (Secret key `secret`)",
            )
        )
    return causes


def root_causes(results: Sequence[CheckResult], unreachable: dict[str, str]) -> list[RootCause]:
    """The fewest causes that explain every failed result, deepest layer first."""
    failures = [r for r in results if r.status == Status.fail]
    causes: list[RootCause] = []
    for region, why in unreachable.items():
        explains = [r.id for r in failures if region in r.regions or r.scope == region]
        causes.append(
            RootCause(
                cause=f"region {region} is unreachable: {why}", layer="region", explains=explains
            )
        )
    causes += _link_causes(failures)
    causes += _node_causes(failures)
    explained = {result_id for cause in causes for result_id in cause.explains}
    for result in failures:
        if result.id not in explained:
            causes.append(
                RootCause(
                    cause=f"{result.check} in {result.scope}: {result.message}",
                    layer=result.check,
                    explains=[result.id],
                    hint=result.hint,
                )
            )
            explained.add(result.id)
    return [cause for cause in causes if cause.explains]
