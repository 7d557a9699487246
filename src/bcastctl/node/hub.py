"""Media hub (placeholder until WHIP/WHEP lands)."""

from __future__ import annotations

from bcastctl.node.cluster import Cluster
from bcastctl.node.metrics import Metrics
from bcastctl.node.settings import NodeSettings


class MediaHub:
    def __init__(self, settings: NodeSettings, metrics: Metrics, cluster: Cluster) -> None:
        self.settings = settings
        self.metrics = metrics
        self.cluster = cluster

    def session_count(self) -> int:
        return 0

    def registry_changed(self) -> None:
        pass

    def refresh_gauges(self) -> None:
        self.metrics.set("sessions", 0)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass
