"""One KubeClient per selected region (the fleet's ClusterRef, or --kubeconfig/--context)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bcastctl.adapters.kube import KubeClient, connect
from bcastctl.errors import UsageError
from bcastctl.fleet import Fleet
from bcastctl.targets.kube import KubeTarget


@dataclass(frozen=True)
class Connected:
    regions: list[str]  # selected, in rollout order (canary first)
    clients: dict[str, KubeClient]
    contexts: dict[str, str | None]  # for hints: the kube context of each region
    target: KubeTarget  # the same clients, for the health gate

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def api_calls(self) -> dict[str, int]:
        return {region: sum(client.calls.values()) for region, client in self.clients.items()}


def selected_regions(fleet: Fleet, regions: Sequence[str] | None) -> list[str]:
    for name in regions or ():
        fleet.region(name)  # ConfigError naming the known regions
    return [name for name in fleet.rollout_order() if not regions or name in regions]


async def connect_regions(
    fleet: Fleet,
    regions: Sequence[str] | None,
    kubeconfig: str | None,
    context: str | None,
    timeout_s: float,
) -> Connected:
    chosen = selected_regions(fleet, regions)
    if context is not None and len(chosen) != 1:
        raise UsageError(
            "--context applies to one region only",
            hint="add --region R, or set each region's cluster.context in the fleet file",
        )
    clients: dict[str, KubeClient] = {}
    contexts: dict[str, str | None] = {}
    try:
        for name in chosen:
            ref = fleet.region(name).cluster
            clients[name] = await connect(
                name, ref, kubeconfig=kubeconfig, context=context, timeout_s=timeout_s
            )
            contexts[name] = context or ref.context
    except BaseException:
        for client in clients.values():
            client.close()
        raise
    return Connected(chosen, clients, contexts, KubeTarget(fleet, clients))
