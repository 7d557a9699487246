"""`clusters discover` against a fake GKE API; `dns plan|apply|verify` against a fake Cloud DNS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from fakes.fleets import REGIONS
from fakes.gcp import FakeGcp

PROJECT = "bcast-prod"
ZONE = "bcast-example-com"
RECORD = "turn.bcast.example.com."
ADDRESSES = {
    "us-east5": "34.23.10.11",
    "europe-west9": "34.155.20.21",
    "asia-southeast1": "34.87.30.31",
}


@pytest.fixture
def gcp(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGcp]:
    fake = FakeGcp().start()
    monkeypatch.setenv("BCASTCTL_GKE_ENDPOINT", fake.url)
    monkeypatch.setenv("BCASTCTL_CLOUDDNS_ENDPOINT", fake.url)
    monkeypatch.setenv("BCASTCTL_GCP_ANONYMOUS", "1")
    fake.add_zone(PROJECT, ZONE, "bcast.example.com.")
    try:
        yield fake
    finally:
        fake.stop()


def test_discover_lists_clusters_and_writes_a_fleet_render_accepts(
    gcp: FakeGcp, clusters, cli, tmp_path: Path
):
    gcp.add_cluster(PROJECT, "us-east5", "bcast-us", clusters.urls["us-east5"])
    gcp.add_cluster(PROJECT, "europe-west9-b", "bcast-eu", clusters.urls["europe-west9"])
    code, result, _ = cli("clusters", "discover", "--project", PROJECT)
    assert code == 0
    assert [(c["region"], c["name"], c["location"]) for c in result["clusters"]] == [
        ("europe-west9", "bcast-eu", "europe-west9-b"),
        ("us-east5", "bcast-us", "us-east5"),
    ]
    assert result["clusters"][1]["endpoint"] == clusters.urls["us-east5"]
    assert gcp.requests == [f"GET /v1/projects/{PROJECT}/locations/-/clusters"]

    fleet = tmp_path / "fleet.yaml"
    code, result, _ = cli("clusters", "discover", "--project", PROJECT, "--write-fleet", str(fleet))
    assert code == 0 and result["fleet_file"] == str(fleet)
    written = yaml.safe_load(fleet.read_text())
    assert written["regions"][0]["cluster"] == {
        "gke": {"project": PROJECT, "location": "europe-west9-b", "cluster": "bcast-eu"}
    }
    assert written["regions"][0]["geo"] == {"lat": 48.86, "lon": 2.35}
    code, _, _ = cli("-f", str(fleet), "render", "--out", str(tmp_path / "out"))
    assert code == 0
    assert (tmp_path / "out" / "resolved" / "us-east5.yaml").exists()


def test_discover_unknown_project_is_a_config_error(gcp: FakeGcp, cli):
    code, _, err = cli("clusters", "discover", "--project", "nope", json_output=False)
    assert code == 3
    assert "GKE project nope: not found" in err and "Traceback" not in err


def test_deploy_reaches_gke_clusters_without_gcloud(gcp: FakeGcp, clusters, cli, tmp_path):
    """A fleet of GKE refs: endpoint and CA from the GKE API, then the kube API."""
    for region in REGIONS:
        gcp.add_cluster(PROJECT, region, f"bcast-{region}", clusters.urls[region])
    fleet = tmp_path / "fleet.yaml"
    assert cli("clusters", "discover", "--project", PROJECT, "--write-fleet", str(fleet))[0] == 0
    code, result, _ = cli("-f", str(fleet), "deploy", "--yes", "--gate-check", "^kube-")
    assert code == 0, result
    assert {r["state"] for r in result["regions"]} == {"deployed"}
    assert f"GET /v1/projects/{PROJECT}/locations/us-east5/clusters/bcast-us-east5" in (
        gcp.requests
    )


def test_dns_plan_apply_verify_round_trip(gcp: FakeGcp, clusters, fleet_file, cli):
    fleet = str(fleet_file())
    assert cli("-f", fleet, "deploy", "--yes", "--gate-check", "^kube-")[0] == 0

    code, result, _ = cli("-f", fleet, "dns", "verify")
    assert code == 1 and result["live"] is None
    code, result, _ = cli("-f", fleet, "dns", "plan")
    assert code == 0
    assert sorted(result["changes"]) == sorted(f"+ {r}: {a}" for r, a in ADDRESSES.items())
    assert set(result["sources"].values()) == {"live Gateway"}
    assert not any(r.startswith("POST") for r in gcp.requests)  # plan writes nothing

    code, result, _ = cli("-f", fleet, "dns", "apply")
    assert code == 0 and result["change_id"]
    record = gcp.record(PROJECT, ZONE, RECORD)
    assert record is not None and record["ttl"] == 60
    items = {i["location"]: i["rrdatas"] for i in record["routingPolicy"]["geo"]["items"]}
    assert items == {r: [a] for r, a in ADDRESSES.items()}

    code, result, _ = cli("-f", fleet, "dns", "verify")
    assert code == 0 and result["changes"] == []
    posts = sum(r.startswith("POST") for r in gcp.requests)
    assert cli("-f", fleet, "dns", "apply")[0] == 0
    assert sum(r.startswith("POST") for r in gcp.requests) == posts  # in sync: no change

    record["routingPolicy"]["geo"]["items"][0]["rrdatas"] = ["198.51.100.7"]
    gcp.set_record(PROJECT, ZONE, record)
    code, out, _ = cli("--no-color", "-f", fleet, "dns", "verify", json_output=False)
    assert code == 1
    location = record["routingPolicy"]["geo"]["items"][0]["location"]
    assert f"~ {location}: 198.51.100.7 -> {ADDRESSES[location]}" in out


def test_dns_from_fleet_without_clusters_and_a_bad_zone(gcp: FakeGcp, tmp_path, cli):
    document = yaml.safe_load((Path(__file__).parents[2] / "examples" / "fleet.yaml").read_text())
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(document))
    code, result, _ = cli("-f", str(fleet), "dns", "plan", "--from-fleet")
    assert code == 0 and len(result["changes"]) == 3
    document["dns"]["zone"] = "missing-zone"
    fleet.write_text(yaml.safe_dump(document))
    code, _, err = cli("-f", str(fleet), "dns", "plan", "--from-fleet", json_output=False)
    assert code == 3 and "missing-zone" in err and "Traceback" not in err


def test_fake_dns_rejects_bad_changes_and_keeps_serving(gcp: FakeGcp):
    path = f"/dns/v1/projects/{PROJECT}/managedZones/{ZONE}/changes"
    status, body = gcp.post_raw(path, b"{not json")
    assert status == 400 and body["error"]["code"] == 400
    status, body = gcp.post_raw(path, b'{"additions": [{"name": "x.other.org.", "type": "A"}]}')
    assert status == 400
    status, _ = gcp.post_raw(
        path, b'{"deletions": [{"name": "%s", "type": "A"}]}' % RECORD.encode()
    )
    assert status == 412
    status, _ = gcp.post_raw(
        path,
        b'{"additions": [{"name": "%s", "type": "A", "ttl": 5, "rrdatas": ["192.0.2.1"]}]}'
        % RECORD.encode(),
    )
    assert status == 200
