"""deploy does not wait for the signalling entry's global load balancer.

GKE provisions a multi-cluster Gateway's global load balancer in minutes ("Deploying
multi-cluster Gateways": the Gateway is Programmed once the load balancer exists), longer
than a region's rollout should block. deploy waits for the StatefulSets and the STUNner
Gateway; the health gate's kube-signalling-entry says "not Programmed" as a warning while
the Gateway is younger than 15 minutes, and as a failure after that (tests/checks).
"""

from __future__ import annotations

from pathlib import Path

from fakes.clusters import cluster_set
from fakes.fleets import REGIONS, fleet_document, seed_secrets, write_fleet
from fakes.kube_api import Workloads

GATE = ("--gate-check", "^kube-")


def test_a_config_region_whose_entry_is_still_provisioning_deploys(tmp_path: Path, cli) -> None:
    with cluster_set(REGIONS) as clusters:
        for region in REGIONS:
            seed_secrets(clusters, region)
        # the fake GKE gives no Gateway an address unless it asks for one (the TURN
        # Gateways do: the fleet's turn_address), so the entry stays not Programmed
        clusters.set_workloads(REGIONS[0], Workloads(gateway_address=None))
        document = fleet_document(clusters.write_kubeconfig(tmp_path / "kc"))
        fleet = write_fleet(tmp_path / "fleet.yaml", document)
        code, result, err = cli("-f", str(fleet), "deploy", "--yes", "--timeout", "10s", *GATE)
        assert code == 0, err
        assert [row["state"] for row in result["regions"]] == ["deployed"] * 3
        entry = clusters.live(REGIONS[0], "gateways", "broadcaster", "bcast-signalling")
        conditions = {c["type"]: c["status"] for c in entry["status"]["conditions"]}
        assert conditions["Programmed"] == "False"
