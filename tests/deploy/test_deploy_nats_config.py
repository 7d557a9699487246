"""deploy rolls NATS when its config changes, and a new region reaches every old one.

nats-server cannot hot-reload gateway settings (only TLS of a gateway reloads: nats-io
docs "Configuration Reloading"), so the nats-io Helm chart puts a checksum of the config
on the pod template (helm/charts/nats: `checksum/config`) and a config change rolls the
StatefulSet. Without it, deploying a fourth region left the old regions' servers with
their old gateway lists (issue 11 point 6).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from fakes.clusters import ClusterSet, cluster_set
from fakes.fleets import REGIONS, fleet_document, seed_secrets, write_fleet

GATE = ("--gate-check", "^kube-")
NEW = "southamerica-east1"


def _nats(clusters: ClusterSet, region: str) -> tuple[str, str]:
    """(nats.conf in the ConfigMap, checksum/config on the StatefulSet's pod template)."""
    config = clusters.live(region, "configmaps", "broadcaster", f"{region}-nats-config")
    sts = clusters.live(region, "statefulsets", "broadcaster", f"{region}-nats")
    annotations = sts["spec"]["template"]["metadata"]["annotations"]
    return str(config["data"]["nats.conf"]), str(annotations["checksum/config"])


def test_changing_a_nats_setting_rolls_the_nats_statefulset(tmp_path: Path, cli) -> None:
    with cluster_set(REGIONS) as clusters:
        for region in REGIONS:
            seed_secrets(clusters, region)
        kubeconfig = clusters.write_kubeconfig(tmp_path / "kc")
        document = fleet_document(kubeconfig)
        fleet = write_fleet(tmp_path / "fleet.yaml", document)
        assert cli("-f", str(fleet), "deploy", "--yes", *GATE)[0] == 0
        before = {region: _nats(clusters, region) for region in REGIONS}

        document["nats"]["cluster_size"] = 5  # the routes in every region's config change
        write_fleet(fleet, document)
        assert cli("-f", str(fleet), "deploy", "--yes", *GATE)[0] == 0
        for region in REGIONS:
            config, checksum = _nats(clusters, region)
            assert config != before[region][0]
            assert checksum == hashlib.sha256(config.encode()).hexdigest() != before[region][1]


def test_adding_a_region_updates_every_regions_gateway_list_in_one_deploy(
    tmp_path: Path, cli
) -> None:
    with cluster_set([*REGIONS, NEW]) as clusters:
        for region in [*REGIONS, NEW]:
            seed_secrets(clusters, region)
        kubeconfig = clusters.write_kubeconfig(tmp_path / "kc")
        fleet = write_fleet(tmp_path / "fleet.yaml", fleet_document(kubeconfig, regions=REGIONS))
        assert cli("-f", str(fleet), "deploy", "--yes", *GATE)[0] == 0
        before = {region: _nats(clusters, region)[1] for region in REGIONS}

        write_fleet(fleet, fleet_document(kubeconfig, regions=[*REGIONS, NEW]))
        code, result, _ = cli("-f", str(fleet), "deploy", "--yes", *GATE)
        assert code == 0
        assert {row["region"]: row["state"] for row in result["regions"]} == {
            **dict.fromkeys(REGIONS, "deployed"),
            NEW: "deployed",
        }
        url = f"nats://{NEW}-nats-gateway.broadcaster.svc.clusterset.local:7222"
        for region in REGIONS:
            config, checksum = _nats(clusters, region)
            assert url in config, region
            assert checksum != before[region], f"{region}'s NATS would keep its old gateways"
