"""`clusters discover`: the GKE clusters of a project, and a fleet file that uses them.

A region is named after its cluster's GCP region (zonal clusters: the zone's region);
two clusters in one region are named after the clusters. Geo coordinates come from a
table of GCP region locations; unknown regions are flagged for the user to fill in.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import yaml

from bcastctl.adapters.gke import GkeClusterInfo, list_clusters
from bcastctl.fleet import load_fleet, parse_fleet
from bcastctl.model import FrozenModel

# Approximate city coordinates of GCP regions (lat, lon).
GCP_REGIONS: Final[dict[str, tuple[float, float]]] = {
    "us-central1": (41.26, -95.86),
    "us-east1": (33.20, -80.01),
    "us-east4": (39.04, -77.49),
    "us-east5": (39.96, -83.00),
    "us-south1": (32.78, -96.80),
    "us-west1": (45.60, -121.18),
    "us-west2": (34.05, -118.24),
    "us-west3": (40.76, -111.89),
    "us-west4": (36.17, -115.14),
    "northamerica-northeast1": (45.50, -73.57),
    "northamerica-northeast2": (43.65, -79.38),
    "southamerica-east1": (-23.55, -46.63),
    "southamerica-west1": (-33.45, -70.67),
    "europe-west1": (50.45, 3.82),
    "europe-west2": (51.51, -0.13),
    "europe-west3": (50.11, 8.68),
    "europe-west4": (53.44, 6.84),
    "europe-west6": (47.38, 8.54),
    "europe-west8": (45.46, 9.19),
    "europe-west9": (48.86, 2.35),
    "europe-west10": (52.52, 13.40),
    "europe-west12": (45.07, 7.69),
    "europe-north1": (60.57, 27.19),
    "europe-central2": (52.23, 21.01),
    "europe-southwest1": (40.42, -3.70),
    "asia-east1": (24.05, 120.52),
    "asia-east2": (22.32, 114.17),
    "asia-northeast1": (35.69, 139.69),
    "asia-northeast2": (34.69, 135.50),
    "asia-northeast3": (37.57, 126.98),
    "asia-south1": (19.08, 72.88),
    "asia-south2": (28.70, 77.10),
    "asia-southeast1": (1.35, 103.82),
    "asia-southeast2": (-6.21, 106.85),
    "australia-southeast1": (-33.87, 151.21),
    "australia-southeast2": (-37.81, 144.96),
    "me-west1": (32.09, 34.78),
    "me-central1": (25.29, 51.53),
    "africa-south1": (-26.20, 28.05),
}


class DiscoveredCluster(FrozenModel):
    region: str  # the fleet region name it would get
    project: str
    location: str
    name: str
    endpoint: str
    status: str
    version: str
    nodes: int
    geo_known: bool


class DiscoverResult(FrozenModel):
    project: str
    clusters: list[DiscoveredCluster]
    fleet_file: str | None = None
    notes: list[str] = []


def gcp_region(location: str) -> str:
    """us-east5-a -> us-east5; regions stay as they are."""
    return re.sub(r"-[a-z]$", "", location)


def _label(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:40] or "region"


def region_names(clusters: list[GkeClusterInfo]) -> list[str]:
    regions = [gcp_region(c.location) for c in clusters]
    return [
        r if regions.count(r) == 1 else _label(c.name)
        for r, c in zip(regions, clusters, strict=True)
    ]


def fleet_document(
    project: str, clusters: list[DiscoveredCluster], base: dict[str, Any]
) -> dict[str, Any]:
    document = dict(base) or {
        "apiVersion": "bcastctl.io/v1alpha1",
        "kind": "Fleet",
        "name": _label(project),
        "namespace": "broadcaster",
        "image": "ghcr.io/example/bcast-node:0.1.0",
    }
    old = {r["name"]: r for r in base.get("regions", [])}
    regions = []
    for cluster in clusters:
        lat, lon = GCP_REGIONS.get(gcp_region(cluster.location), (0.0, 0.0))
        region = dict(old.get(cluster.region, {"geo": {"lat": lat, "lon": lon}}))
        region["name"] = cluster.region
        region["cluster"] = {
            "gke": {"project": project, "location": cluster.location, "cluster": cluster.name}
        }
        regions.append(region)
    document["regions"] = regions
    return document


def write_fleet_file(path: Path, project: str, clusters: list[DiscoveredCluster]) -> None:
    """Write a new fleet file, or update the regions of an existing one."""
    base: dict[str, Any] = {}
    if path.exists():
        load_fleet(path)  # refuse to rewrite a broken file (ConfigError names it)
        base = yaml.safe_load(path.read_text(encoding="utf-8"))
    document = fleet_document(project, clusters, base)
    parse_fleet(document, str(path))  # what we write must load
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")


async def discover(project: str, write_fleet: Path | None = None) -> DiscoverResult:
    infos = sorted(await list_clusters(project), key=lambda c: (c.location, c.name))
    clusters = [
        DiscoveredCluster(
            region=name,
            project=project,
            location=c.location,
            name=c.name,
            endpoint=c.endpoint,
            status=c.status,
            version=c.version,
            nodes=c.node_count,
            geo_known=gcp_region(c.location) in GCP_REGIONS,
        )
        for name, c in zip(region_names(infos), infos, strict=True)
    ]
    notes = [
        f"{c.region}: unknown GCP region, set geo.lat/lon by hand"
        for c in clusters
        if not c.geo_known
    ]
    if write_fleet is None:
        return DiscoverResult(project=project, clusters=clusters, notes=notes)
    write_fleet_file(write_fleet, project, clusters)
    return DiscoverResult(
        project=project, clusters=clusters, fleet_file=str(write_fleet), notes=notes
    )
