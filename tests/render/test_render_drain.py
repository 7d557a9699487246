"""The broadcaster pod drains before it stops, within its grace period, and knows its
region's public URL.

Kubernetes' Lifecycle.preStop API reference (core/v1): "The Pod's termination grace period
countdown begins before the PreStop hook is executed ... Other management of the container
blocks until the hook completes or until the termination grace period is reached"; SIGTERM
follows the hook (kubernetes.io/docs/concepts/containers/container-lifecycle-hooks/). So the
grace period must hold the whole drain plus the node's own exit.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bcastctl.fleet import load_fleet
from bcastctl.model import replace
from bcastctl.node.settings import NodeSettings
from bcastctl.render.manifests import region_manifests

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml"


def broadcaster(fleet: Any, region: str) -> dict[str, Any]:
    objects = region_manifests(fleet, fleet.region(region)).resolved
    return next(
        d
        for d in objects
        if d["kind"] == "StatefulSet" and d["metadata"]["name"] == f"{region}-broadcaster"
    )


def test_the_pod_drains_in_its_prestop_hook_within_the_grace_period() -> None:
    fleet = load_fleet(EXAMPLE)
    fleet = replace(fleet, node=replace(fleet.node, drain_deadline_s=45))
    pod = broadcaster(fleet, "us-east5")["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["bcastctl", "node", "drain"]
    assert pod["terminationGracePeriodSeconds"] == 60  # the deadline + 15 s to exit
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env[NodeSettings.drain_deadline_s.env] == "45"


def test_each_region_redirects_to_its_own_public_host() -> None:
    fleet = load_fleet(EXAMPLE)  # signalling.region_hosts: true
    for region in ("us-east5", "asia-southeast1"):
        container = broadcaster(fleet, region)["spec"]["template"]["spec"]["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[NodeSettings.public_url.env] == f"https://{region}.live.bcast.example.com"
    assert fleet.signalling is not None
    without = replace(fleet, signalling=replace(fleet.signalling, region_hosts=False))
    container = broadcaster(without, "us-east5")["spec"]["template"]["spec"]["containers"][0]
    assert NodeSettings.public_url.env not in {e["name"] for e in container["env"]}
