"""`bcastctl bundle` against fake clusters (kmock behind the shim, one per region): pods,
events and container logs since --since collected per region, a region whose API does not
answer recorded and the rest collected, every planted secret absent from the archive.

The log API's parameters (container, sinceSeconds, timestamps, limitBytes) are those of
the Kubernetes API reference ("read log of the specified Pod"); the fake serves them.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bundle_kit import bundle_files, bundle_json, leaks

from bcastctl.cli.main import run
from bcastctl.deploy.rollout import DeployOptions, deploy
from bcastctl.fleet import parse_fleet
from fakes.clusters import cluster_set
from fakes.fleets import REGIONS, SECRET_VALUE, fleet_document, seed_secrets, write_fleet

A, B, C = REGIONS
PLANTED = ["planted-pw-4242", "planted-bearer-token-9999", "turn-credential-planted-77"]


def test_pods_events_logs_collected_and_secrets_redacted(tmp_path: Path) -> None:
    now = time.time()
    with cluster_set(REGIONS) as clusters:
        for name in REGIONS:
            seed_secrets(clusters, name)
        good = clusters.write_kubeconfig(tmp_path / "kc")
        fleet = parse_fleet(fleet_document(good))
        assert asyncio.run(deploy(fleet, DeployOptions(gate=False))).exit_code == 0
        pod = clusters.live(A, "pods", fleet.namespace, f"{A}-broadcaster-0")
        container = pod["spec"]["containers"][0]["name"]
        lines = [
            (now - 7200, "ERROR old news from two hours ago"),
            (now - 60, f"WARN gateway {B} down; retry with password={PLANTED[0]}"),
            (now - 30, f"INFO Authorization: Bearer {PLANTED[1]} joined"),
            (now - 20, f'ERROR pc-config {{"credential": "{PLANTED[2]}"}} refused'),
        ]
        clusters.call(lambda: clusters.clusters[A].pod_logs.update(
            {(fleet.namespace, f"{A}-broadcaster-0", container): lines}))  # fmt: skip
        event_time = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now - 45))
        clusters.seed(A, "events", fleet.namespace, {
            "apiVersion": "v1", "kind": "Event",
            "metadata": {"name": "nats-restart", "namespace": fleet.namespace},
            "involvedObject": {"kind": "Pod", "name": f"{A}-nats-0"},
            "reason": "BackOff", "message": "Back-off restarting failed container",
            "type": "Warning", "lastTimestamp": event_time,
        })  # fmt: skip
        # someone scaled A's broadcaster by hand: the live-vs-rendered diff shows it
        clusters.merge_patch(A, "apps/v1", "statefulsets", fleet.namespace, f"{A}-broadcaster",
                             {"spec": {"replicas": 5}}, "kubectl-edit")  # fmt: skip
        # C's API server stops answering: the bundle records it and collects A and B
        broken = clusters.write_kubeconfig(tmp_path / "kc2", {C: clusters.unreachable_url()})
        fleet_file = write_fleet(tmp_path / "fleet.yaml", fleet_document(broken))
        out = tmp_path / "fleet.tar.gz"
        code = run(["-q", "--fleet", str(fleet_file), "bundle", "--target", "kube",
                    "--since", "1h", "--timeout", "3s", "-f", str(out)])  # fmt: skip
    assert code == 0
    files = bundle_files(out)
    manifest = bundle_json(files, "manifest.json")
    regions = {r["name"]: r for r in manifest["regions"]}
    assert regions[C]["reachable"] is False and regions[C]["error"]
    assert "regions/us-east5/pods.json" in files and "regions/europe-west9/pods.json" in files
    pods = {p["metadata"]["name"] for p in bundle_json(files, f"regions/{A}/pods.json")}
    assert f"{A}-broadcaster-0" in pods and f"{A}-nats-0" in pods
    events = bundle_json(files, f"regions/{A}/events.json")
    assert [e["reason"] for e in events] == ["BackOff"]
    log = files[f"regions/{A}/logs/{A}-broadcaster-0/{container}.log"].decode()
    assert f"gateway {B} down" in log and "two hours ago" not in log  # --since 1h
    assert "[REDACTED]" in log
    timeline = [line for line in files["timeline.jsonl"].decode().splitlines() if line]
    texts = [line for line in timeline if A in line]
    assert any("BackOff" in t for t in texts) and any(f"gateway {B} down" in t for t in texts)
    assert timeline == sorted(timeline)  # ordered by time (the time is the first key)
    diff = files[f"regions/{A}/diff.txt"].decode()
    assert f"live/StatefulSet/{A}-broadcaster" in diff and "+  replicas: 5" in diff
    assert files[f"regions/{B}/diff.txt"].decode() == "live objects match the rendered ones\n"
    assert {"verify-mesh.json", "probe-rtt.json", "fleet.yaml"} <= set(files)
    assert leaks(files, [SECRET_VALUE, *PLANTED]) == []
