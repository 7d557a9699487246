"""kube-cluster: the region's Kubernetes API answers, and runs a recent enough version."""

from __future__ import annotations

from bcastctl.checks.base import Check, CheckContext, CheckResult, fail, ok, skip
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.kube import KubeTarget

MIN_MINOR = 26


class KubeCluster(Check):
    name = "kube-cluster"
    title = "Kubernetes API reachable, version"
    layer = "cluster"
    needs = frozenset({"kube"})

    async def run_region(self, ctx: CheckContext, region: RegionEndpoints) -> list[CheckResult]:
        if not isinstance(ctx.target, KubeTarget):
            return [skip(self.name, region.name, "not a kube target")]
        client = await ctx.target.kube_client(region.name)
        version = await client.version()
        minor = int("".join(c for c in version["minor"] if c.isdigit()) or 0)
        if version["major"] == "1" and minor < MIN_MINOR:
            return [
                fail(
                    self.name,
                    region.name,
                    f"Kubernetes {version['gitVersion']} is too old",
                    hint=f"bcastctl needs Kubernetes 1.{MIN_MINOR} or newer",
                    version=version["gitVersion"],
                )
            ]
        return [
            ok(
                self.name,
                region.name,
                f"Kubernetes {version['gitVersion']} at {client.host}",
                version=version["gitVersion"],
            )
        ]
