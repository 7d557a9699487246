"""`bcastctl monitor --target kube` against fake clusters (kmock behind the shim, one per
region, deployed by `deploy`): the kube checks' series are served per region, a region
whose API server stops answering flips `bcast_region_reachable` to 0 on a later round,
and SIGTERM ends it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_kit import Series, scrape

from bcastctl.deploy.rollout import DeployOptions, deploy
from bcastctl.fleet import parse_fleet
from fakes.clusters import cluster_set
from fakes.fleets import REGIONS, fleet_document, seed_secrets, write_fleet
from nats_testkit import free_port

pytestmark = pytest.mark.slow  # runs `bcastctl monitor` for rounds on a 2 s interval

REPO = Path(__file__).resolve().parents[2]


def wait_for(port: int, done: Callable[[Series], object], process: subprocess.Popen[str]) -> Series:
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.communicate()[1]
        try:
            seen = scrape(port)
            if done(seen):
                return seen
        except OSError:
            pass
        assert time.monotonic() < deadline, "not seen within 60 s"
        time.sleep(0.3)


def test_monitor_on_clusters_serves_kube_checks_and_sees_a_region_go(tmp_path: Path) -> None:
    with cluster_set(REGIONS) as clusters:
        for name in REGIONS:
            seed_secrets(clusters, name)
        kubeconfig = clusters.write_kubeconfig(tmp_path / "kc")
        document = fleet_document(kubeconfig)
        assert asyncio.run(deploy(parse_fleet(document), DeployOptions(gate=False))).exit_code == 0
        fleet_file = write_fleet(tmp_path / "fleet.yaml", document)
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("BCAST")}
        monitor = subprocess.Popen(
            [sys.executable, "-m", "bcastctl", "--fleet", str(fleet_file), "monitor", "--target",
             "kube", "--interval", "2s", "--timeout", "2s", "-n", "1", "--listen",
             f"127.0.0.1:{port}"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
        )  # fmt: skip
        try:
            seen = wait_for(port, lambda s: s.get(("bcast_monitor_rounds_total", ())), monitor)
            for region in REGIONS:
                ok = ("bcast_check_status",
                      (("check", "kube-cluster"), ("scope", region), ("status", "ok")))  # fmt: skip
                assert seen.get(ok) == 1, sorted(k for k in seen if k[0] == "bcast_check_status")
                assert seen[("bcast_region_reachable", (("region", region),))] == 1
            # the fake's pod proxy has no NATS behind it: that is a failing check and a cause
            for region in REGIONS:
                labels = (("check", "nats-gateways"), ("scope", region), ("status", "fail"))
                nats = ("bcast_check_status", labels)
                assert seen.get(nats) == 1
            causes = [dict(k[1])["cause"] for k in seen if k[0] == "bcast_root_cause"]
            assert any("NATS" in cause for cause in causes), causes
            # the last region's API server goes away
            dead = REGIONS[-1]
            clusters.call(lambda: clusters.clusters[dead].faults.extend([("/", 503)] * 1000))
            key = ("bcast_region_reachable", (("region", dead),))
            wait_for(port, lambda s: s.get(key) == 0, monitor)
        finally:
            monitor.send_signal(signal.SIGTERM)
            _, err = monitor.communicate(timeout=20)
    assert monitor.returncode == 0, err
    assert "Traceback" not in err
