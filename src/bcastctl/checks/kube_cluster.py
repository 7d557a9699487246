"""kube-cluster: the region's Kubernetes API answers, and runs a recent enough version."""

from __future__ import annotations

from typing import Final

from bcastctl.adapters.kube import ServerVersion
from bcastctl.checks.base import CheckContext, CheckResult, Finding, KubeCheck, fail, ok
from bcastctl.targets.base import RegionEndpoints
from bcastctl.targets.capabilities import KubeAccess

NAME: Final = "kube-cluster"
MIN_MINOR = 26


class ClusterVersion(Finding):
    check = NAME
    version: str  # the API server's gitVersion


def too_old(version: ServerVersion) -> bool:
    """True for Kubernetes 1.x older than 1.MIN_MINOR ("27+" minors, as GKE prints, count)."""
    minor = int("".join(c for c in version["minor"] if c.isdigit()) or 0)
    return version["major"] == "1" and minor < MIN_MINOR


class KubeCluster(KubeCheck):
    name = NAME
    title = "Kubernetes API reachable, version"
    layer = "cluster"

    async def run_kube(
        self, ctx: CheckContext, kube: KubeAccess, region: RegionEndpoints
    ) -> list[CheckResult]:
        client = await kube.kube_client(region.name)
        version = await client.version()
        if too_old(version):
            return [
                fail(
                    self.name,
                    region.name,
                    f"Kubernetes {version['gitVersion']} is too old",
                    hint=f"bcastctl needs Kubernetes 1.{MIN_MINOR} or newer",
                    values=ClusterVersion(version=version["gitVersion"]).as_values(),
                )
            ]
        return [
            ok(
                self.name,
                region.name,
                f"Kubernetes {version['gitVersion']} at {client.host}",
                values=ClusterVersion(version=version["gitVersion"]).as_values(),
            )
        ]
