"""Root-cause summary: link failures across layers to the fewest underlying problems.

The layers, deepest first: region reachability -> clusterset DNS / gateway
certificates -> NATS gateway links -> node liveness / cluster secret -> membership,
registry, media. A cut gateway link explains a membership partition between its
regions and a failed cross-region media pair; an unresolvable clusterset name
explains the gateway link that dials it; a region whose gateway certificate fails
its peers' TLS (gateway-reach) explains its cut links and everything they explain.
A failure is attributed to causes only when they explain all of it (a node missing
one peer that is down and rejecting another with a wrong secret is explained by
both). Failures nothing explains are listed as their own causes, so the summary
always accounts for every failure.

Reads results only through the checks' typed findings and names (imported from
each check module): pair scopes "A->B" (nats-gateways, mcs-dns, media),
`gateway_reach.GatewayReached`, `membership.NodeMembership` / `SilentNode` / `OffNats` /
`Partition`,
`stream_registry.RegistryAgreement`, `nats_gateways.MonitorsUnreachable`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from bcastctl.checks import gateway_reach, mcs_dns, membership, nats_gateways, stream_registry
from bcastctl.checks.base import CheckResult, Status
from bcastctl.checks.report import RootCause
from bcastctl.model import replace

Key = tuple[str, str]  # (kind, subject): ("link", "a|b"), ("down", node), ("secret", node), ...


def _link(a: str, b: str) -> Key:
    return ("link", "|".join(sorted((a, b))))


@dataclass
class _Facts:
    unreachable: set[str]
    cut: set[Key]  # gateway links that failed
    dns: dict[Key, str] = field(default_factory=dict)  # link -> mcs-dns result id
    down: set[str] = field(default_factory=set)  # nodes that do not answer
    off_nats: set[str] = field(default_factory=set)  # nodes that answer but are off NATS
    nats_down: set[str] = field(default_factory=set)  # regions whose NATS does not answer
    node_region: dict[str, str] = field(default_factory=dict)
    bad_certificate: dict[str, str] = field(default_factory=dict)  # region -> TLS problem

    def between(self, region: str, far: str) -> Key | None:
        """Why nodes of `region` and `far` cannot talk: a dead NATS, or a cut link (and a
        gateway certificate of one of them that its peers' TLS refuses, when there is)."""
        for side in (region, far):
            if side in self.nats_down:
                return ("nats", side)
        link = _link(region, far)
        if link not in self.cut:
            return None
        refused = [side for side in sorted((region, far)) if side in self.bad_certificate]
        return ("certificate", refused[0]) if refused else link


def _facts(failures: Sequence[CheckResult], unreachable: set[str]) -> _Facts:
    facts = _Facts(
        unreachable=unreachable,
        cut={
            _link(*r.regions)
            for r in failures
            if r.check == nats_gateways.NAME and r.scope_kind == "pair"
        },
    )
    for r in failures:
        monitors = nats_gateways.MonitorsUnreachable.of(r)
        if monitors is not None and monitors.monitor_unreachable:
            facts.nats_down.add(r.scope)
        if r.check == mcs_dns.NAME and r.scope_kind == "pair":
            facts.dns[_link(*r.regions)] = r.id
        silent = membership.SilentNode.of(r)
        if silent is not None and silent.unreachable:
            facts.down.add(r.scope)
        off = membership.OffNats.of(r)
        if off is not None and off.off_nats:
            facts.off_nats.add(r.scope)
        node = membership.NodeMembership.of(r)
        if node is not None:
            facts.node_region.update(zip(node.missing, node.missing_regions, strict=False))
        reach = gateway_reach.GatewayReached.of(r)
        if reach is not None and reach.certificate_problem and r.scope_kind == "pair":
            facts.bad_certificate.setdefault(r.regions[1], reach.certificate_problem)
    return facts


def _reasons(result: CheckResult, facts: _Facts) -> set[Key] | None:
    """The causes that together explain the whole failure, or None if something is left over."""
    touched = set(result.regions) | ({result.scope} if result.scope_kind == "region" else set())
    if touched & facts.unreachable:
        return {("region", region) for region in touched & facts.unreachable}
    if result.check == nats_gateways.NAME and result.scope in facts.nats_down:
        return {("nats", result.scope)}
    if result.scope_kind == "pair":
        if result.check == mcs_dns.NAME:
            return None  # DNS is the deepest layer we see: a cause of its own
        reach = gateway_reach.GatewayReached.of(result)
        if reach is not None and reach.certificate_problem:
            return {("certificate", result.regions[1])}
        key = facts.between(*result.regions)
        return {key} if key else None
    partition = membership.Partition.of(result)
    if partition is not None:
        keys = [facts.between(*p.split("<->")) for p in partition.split_pairs]
        return {k for k in keys if k} if keys and all(keys) else None
    silent = membership.SilentNode.of(result)
    if silent is not None and silent.unreachable:
        return {("down", result.scope)}
    off = membership.OffNats.of(result)
    if off is not None and off.off_nats:
        return {
            ("nats", off.region) if off.region in facts.nats_down else ("off-nats", result.scope)
        }
    return _node_reasons(result, facts)


def _node_reasons(result: CheckResult, facts: _Facts) -> set[Key] | None:
    """A node's membership or registry failure, explained by what it cannot reach."""
    node = membership.NodeMembership.of(result)
    registry = stream_registry.RegistryAgreement.of(result)
    finding = node or registry
    if finding is None:
        return None
    if finding.region in facts.nats_down:  # its own NATS is gone: it sees nobody
        return {("nats", finding.region)}
    reasons: set[Key] = set()
    if node is not None:
        reasons |= {("secret", name) for name in node.rejected}
        for name, far in zip(node.missing, node.missing_regions, strict=False):
            if name in facts.down:
                key: Key | None = ("down", name)
            elif far in facts.nats_down:  # its region's NATS is gone: that, not the node
                key = ("nats", far)
            elif name in facts.off_nats:
                key = ("off-nats", name)
            else:
                key = facts.between(node.region, far)
            if key is None:
                return None
            reasons.add(key)
    for far in registry.disagrees_with_regions if registry is not None else []:
        key = facts.between(finding.region, far)
        if key is None:
            return None
        reasons.add(key)
    return reasons or None


def _describe(key: Key, facts: _Facts) -> RootCause:
    kind, subject = key
    if kind == "region":
        return RootCause(cause=f"region {subject} is unreachable", layer="region", explains=[])
    if kind == "nats":
        return RootCause(
            cause=f"NATS of region {subject} does not answer (its monitor is unreachable)",
            layer="nats",
            explains=[],
            hint=f"look at {subject}'s NATS servers: without them its nodes see nobody",
        )
    if kind == "down":
        return RootCause(
            cause=f"node {subject} is down (its admin endpoint does not answer)",
            layer="node",
            explains=[],
            hint=f"look at {subject}'s logs and restarts",
        )
    if kind == "off-nats":
        return RootCause(
            cause=f"node {subject} is not connected to NATS",
            layer="node",
            explains=[],
            hint=f"look at {subject}'s log for NATS errors (credentials, -ERR); "
            "it keeps dialling, with backoff",
        )
    if kind == "secret":
        return RootCause(
            cause=f"node {subject} signs heartbeats with a different cluster secret",
            layer="secret",
            explains=[],
            hint=f"give {subject} the fleet's cluster secret, or stop it",
        )
    if kind == "certificate":
        return RootCause(
            cause=f"the NATS gateway certificate of {subject} fails its peers' TLS, so its "
            f"gateway links cannot connect: {facts.bad_certificate[subject]}",
            layer="tls",
            explains=[],
            hint=f"issue {subject}'s gateway certificate from the fleet's gateway CA for the "
            "addresses its peers dial (nats.gateway_tls), then restart its NATS",
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
    order = {
        "region": 0,
        "nats": 1,
        "certificate": 2,
        "link": 2,
        "down": 3,
        "off-nats": 3,
        "secret": 4,
    }
    explained: dict[Key, list[str]] = {}
    leftovers: list[RootCause] = []
    for result in failures:
        reasons = _reasons(result, facts)
        if reasons is not None:
            for key in reasons:
                explained.setdefault(key, []).append(result.id)
        elif not (
            result.check == mcs_dns.NAME
            and result.scope_kind == "pair"  # a region-wide mcs-dns failure has no link
            and _link(*result.regions) in facts.cut
        ):
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
        causes.append(replace(cause, **update))
    return causes + leftovers
