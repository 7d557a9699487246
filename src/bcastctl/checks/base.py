"""What a check is, what it returns, and what it gets to work with.

A check is one file under checks/ with one class (registered by one line in
checks/registry.py), its name as a constant, and its measured values as Findings:

    NAME: Final = "nats-gateways"

    class GatewayPair(Finding):
        check = NAME
        rtt_ms: float | None

    class NatsGateways(Check):
        name = NAME
        title = "NATS gateway links, configured vs connected, both directions"
        layer = "nats"
        needs = frozenset()           # or {"lab"}, {"media"}; kube checks derive KubeCheck

        async def run_region(self, ctx, region):   # fanned out by the runner
            link = GatewayPair(rtt_ms=84.0)
            return [ok(self.name, f"{region.name}->{peer}", "connected", values=link.as_values())]

A per-region check overrides `run_region`; the runner calls it once per selected
region, concurrently, each under its own deadline. A check that must compare
regions (membership, registry) sets `per_region = False` and overrides
`run_fleet`, which gets every selected region at once. A check that reads the
Kubernetes API derives `KubeCheck` and overrides `run_kube`, which gets the target's
typed `KubeAccess`. Whoever reads another check's results (rootcause, the monitor,
reports) imports its NAME and reads its Findings with `Finding.of(result)`.

Results carry a status (ok / warn / fail / skip with a reason), a one-line
message, a hint for failures, the scope (a region, an "A->B" pair or a node) and
measured values. A check never prints and never raises for a finding: it returns
a result. Exceptions it raises are turned into `fail` results by the runner.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal, Self, TypeVar

from bcastctl.errors import BcastError, UnreachableError
from bcastctl.model import FrozenModel, InvalidData, parse, to_data
from bcastctl.targets.base import NodeEndpoints, RegionEndpoints, Target, get_json
from bcastctl.targets.capabilities import KubeAccess, kube_access

Need = Literal["kube", "lab", "media"]
ScopeKind = Literal["region", "pair", "node", "fleet"]
Value = float | int | str | bool | None | list[str]

T = TypeVar("T")


class Status(StrEnum):
    ok = "ok"
    warn = "warn"
    fail = "fail"
    skip = "skip"


class CheckResult(FrozenModel):
    """One finding of one check about one scope."""

    check: str
    scope: str  # "us-east5", "us-east5->europe-west9", "us-east5-0", or "fleet"
    scope_kind: ScopeKind
    status: Status
    message: str
    hint: str | None = None
    values: dict[str, Value] = {}

    @property
    def id(self) -> str:
        return f"{self.check}/{self.scope}"

    @property
    def regions(self) -> tuple[str, ...]:
        """The regions this result is about (both ends of a pair)."""
        if self.scope_kind == "pair":
            a, _, b = self.scope.partition("->")
            return (a, b)
        if self.scope_kind == "region":
            return (self.scope,)
        region = self.values.get("region")
        return (region,) if isinstance(region, str) else ()


class Finding(FrozenModel):
    """The measured values of one kind of result of one check, typed.

    A check builds its results' `values` from a Finding (`as_values()`), and whoever
    reads them (rootcause, the monitor, reports) reads them back with `of(result)`, so a
    renamed field breaks mypy and the fast tests instead of silently reading nothing.
    The JSON contract is unchanged: `values` holds exactly the fields.
    """

    check: ClassVar[str]  # the name of the check that writes it

    def as_values(self) -> dict[str, Value]:
        values: dict[str, Value] = to_data(self)
        return values

    @classmethod
    def of(cls, result: CheckResult) -> Self | None:
        """This finding of `result`, or None (another check, or another kind of result)."""
        if result.check != cls.check:
            return None
        try:
            return parse(cls, result.values)
        except InvalidData:
            return None


def pair(a: str, b: str) -> str:
    return f"{a}->{b}"


def _result(
    status: Status,
    check: str,
    scope: str,
    message: str,
    hint: str | None,
    scope_kind: ScopeKind | None,
    values: Mapping[str, Value] | None,
    more: dict[str, Value],
) -> CheckResult:
    kind: ScopeKind = scope_kind or ("pair" if "->" in scope else "region")
    return CheckResult(
        check=check,
        scope=scope,
        scope_kind=kind,
        status=status,
        message=message,
        hint=hint,
        values={**(values or {}), **more},
    )


def ok(
    check: str,
    scope: str,
    message: str,
    *,
    kind: ScopeKind | None = None,
    values: Mapping[str, Value] | None = None,
    **more: Value,
) -> CheckResult:
    return _result(Status.ok, check, scope, message, None, kind, values, more)


def warn(
    check: str,
    scope: str,
    message: str,
    *,
    hint: str | None = None,
    kind: ScopeKind | None = None,
    values: Mapping[str, Value] | None = None,
    **more: Value,
) -> CheckResult:
    return _result(Status.warn, check, scope, message, hint, kind, values, more)


def fail(
    check: str,
    scope: str,
    message: str,
    *,
    hint: str | None = None,
    kind: ScopeKind | None = None,
    values: Mapping[str, Value] | None = None,
    **more: Value,
) -> CheckResult:
    return _result(Status.fail, check, scope, message, hint, kind, values, more)


def skip(
    check: str,
    scope: str,
    reason: str,
    *,
    kind: ScopeKind | None = None,
    values: Mapping[str, Value] | None = None,
    **more: Value,
) -> CheckResult:
    return _result(Status.skip, check, scope, reason, None, kind, values, more)


@dataclass
class CheckContext:
    """What a check gets: the target, the regions in scope, and the run's options."""

    target: Target
    selected: Sequence[str]  # region names this run checks (all, or the deploy gate's subset)
    timeout_s: float  # the deadline of one check in one region
    media: bool = False
    media_relay: bool = False  # media only through the regions' TURN servers
    _regions: dict[str, asyncio.Task[RegionEndpoints]] = field(default_factory=dict)
    _shared: dict[str, asyncio.Task[Any]] = field(default_factory=dict)

    async def shared(self, key: str, factory: Callable[[], Awaitable[T]]) -> T:
        """Fetch something once per run for several checks (e.g. every node's cluster view)."""
        task = self._shared.get(key)
        if task is None:
            task = asyncio.ensure_future(factory())
            self._shared[key] = task
        result: T = await asyncio.shield(task)
        return result

    async def region(self, name: str) -> RegionEndpoints:
        """A region's endpoints, asked once per run (UnreachableError if unreachable)."""
        task = self._regions.get(name)
        if task is None:
            task = asyncio.ensure_future(self.target.region(name, self.timeout_s))
            self._regions[name] = task
        return await asyncio.shield(task)

    def cancel_pending(self) -> None:
        """End lookups nobody awaits any more (a check that timed out)."""
        for task in [*self._regions.values(), *self._shared.values()]:
            task.cancel()

    async def all_regions(self) -> dict[str, RegionEndpoints | BcastError]:
        """Every region of the target (not only the selected ones): expected-set checks."""
        names = list(self.target.region_names)
        answers = await asyncio.gather(
            *(self.region(name) for name in names), return_exceptions=True
        )
        out: dict[str, RegionEndpoints | BcastError] = {}
        for name, answer in zip(names, answers, strict=True):
            if isinstance(answer, RegionEndpoints | BcastError):
                out[name] = answer
            elif isinstance(answer, BaseException):
                raise answer
        return out

    async def gather(self, calls: Sequence[Awaitable[T]]) -> list[T | BaseException]:
        """Run calls concurrently; exceptions come back as values (never stop at the first)."""
        return list(await asyncio.gather(*calls, return_exceptions=True))


class Check:
    """Base of every check; subclasses set the ClassVars and override one run method."""

    name: ClassVar[str]
    title: ClassVar[str]
    layer: ClassVar[str]  # for root-cause analysis: cluster, dns, nats, membership, ...
    needs: ClassVar[frozenset[Need]] = frozenset()
    per_region: ClassVar[bool] = True
    # checks that change the fleet (media publishes streams) run after the others,
    # so that those see the fleet as it was
    runs_after_others: ClassVar[bool] = False

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        raise NotImplementedError(f"{type(self).__name__} must override run_region or run_fleet")

    async def run_fleet(
        self, ctx: CheckContext, regions: Sequence[RegionEndpoints]
    ) -> list[CheckResult]:
        raise NotImplementedError(f"{type(self).__name__} must override run_fleet")


async def ask_any_node(
    ctx: CheckContext, nodes: Sequence[NodeEndpoints], path: str, params: Mapping[str, str],
    why: str,
) -> Any:  # fmt: skip
    """GET `path` on the admin port of the first node of a region that answers (a check
    that looks from inside the region); UnreachableError naming every node tried."""
    errors: list[str] = []
    for node in nodes:
        if node.admin is None:
            continue
        try:
            return await get_json(ctx.target, node.admin, path, params, ctx.timeout_s)
        except BcastError as e:
            errors.append(e.message)
    raise UnreachableError(
        f"no node of the region answers {path}" + (f" ({'; '.join(errors)})" if errors else ""),
        hint=f"{why} is checked from inside the region through a running node",
    )


class KubeCheck(Check):
    """A per-region check that reads the region's Kubernetes API ("kube" targets only).

    The runner runs it only where the target offers "kube"; the base hands it the
    target's typed `KubeAccess`, so a kube check never tests the target's class.
    """

    needs: ClassVar[frozenset[Need]] = frozenset({"kube"})

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        return await self.run_kube(ctx, kube_access(ctx.target), region)

    async def run_kube(
        self, ctx: CheckContext, kube: KubeAccess, region: RegionEndpoints
    ) -> list[CheckResult]:
        raise NotImplementedError(f"{type(self).__name__} must override run_kube")


CheckFactory = Callable[[], Check]
