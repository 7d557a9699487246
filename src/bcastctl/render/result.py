"""What render returns: per region, what was written and a digest of it."""

from __future__ import annotations

from bcastctl.model import FrozenModel


class RegionRendered(FrozenModel):
    region: str
    objects: int
    kinds: dict[str, int]
    gateways: list[str]  # the other regions this region's NATS dials
    replicas: int
    resolved: str  # path of resolved/<region>.yaml
    sha256: str


class RenderResult(FrozenModel):
    fleet: str
    out: str
    regions: list[RegionRendered]
    pruned: list[str]  # overlays removed because their region left the fleet
