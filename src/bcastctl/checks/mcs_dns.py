"""mcs-dns: every other region's clusterset names resolve from inside each region.

Resolution happens inside the region, through a node's `/api/diag/resolve`
(the node asks the cluster's DNS, as the NATS gateway dialling those names
does). One result per ordered pair A->B: all of B's names the target expects
resolve from A, to the expected addresses when the target knows them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from bcastctl.checks.base import (
    Check,
    CheckContext,
    CheckResult,
    Finding,
    ask_any_node,
    fail,
    ok,
    pair,
    skip,
)
from bcastctl.errors import BcastError
from bcastctl.exposure import mode_label
from bcastctl.targets.base import DnsExpectation, NodeEndpoints, RegionEndpoints

NAME: Final = "mcs-dns"


class NamesResolved(Finding):
    """Scope "A->B": B's clusterset names asked from inside A."""

    check = NAME
    names: int


async def _resolve_from(ctx: CheckContext, nodes: Sequence[NodeEndpoints], name: str) -> Any:
    return await ask_any_node(ctx, nodes, "/api/diag/resolve", {"name": name}, "DNS")


def resolve_problem(expectation: DnsExpectation, answer: Any) -> str | None:
    addresses = sorted(str(a) for a in answer.get("addresses") or [])
    if answer.get("error"):
        return f"{expectation.name}: {answer['error']}"
    if not addresses:
        return f"{expectation.name}: no addresses"
    if expectation.addresses is not None and set(addresses) != set(expectation.addresses):
        want = ", ".join(sorted(expectation.addresses))
        return f"{expectation.name}: {', '.join(addresses)} (expected {want})"
    return None


class McsDns(Check):
    name = NAME
    title = "clusterset names of every other region resolve from inside each region"
    layer = "dns"

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        if not region.dns_expectations:
            mode = mode_label(ctx.target.fleet.region(region.name))
            return [
                skip(
                    self.name,
                    region.name,
                    f"{region.name} ({mode}) has no peer over MCS (see gateway-reach)",
                )
            ]
        by_region: dict[str, list[DnsExpectation]] = {}
        for expectation in region.dns_expectations:
            by_region.setdefault(expectation.of_region, []).append(expectation)
        names = [e.name for group in by_region.values() for e in group]
        answers = await ctx.gather([_resolve_from(ctx, region.nodes, name) for name in names])
        answer_of = dict(zip(names, answers, strict=True))
        results: list[CheckResult] = []
        for other, expectations in by_region.items():
            problems: list[str] = []
            for expectation in expectations:
                answer = answer_of[expectation.name]
                if isinstance(answer, BcastError):
                    return [fail(self.name, region.name, answer.message, hint=answer.hint)]
                if isinstance(answer, BaseException):
                    raise answer
                problem = resolve_problem(expectation, answer)
                if problem:
                    problems.append(problem)
            scope = pair(region.name, other)
            if problems:
                results.append(
                    fail(
                        self.name,
                        scope,
                        "; ".join(problems),
                        hint=f"{other}'s services must be exported (ServiceExport) and imported "
                        f"into {region.name}",
                        values=NamesResolved(names=len(expectations)).as_values(),
                    )
                )
            else:
                results.append(
                    ok(
                        self.name,
                        scope,
                        f"{len(expectations)} name(s) resolve",
                        values=NamesResolved(names=len(expectations)).as_values(),
                    )
                )
        return results
