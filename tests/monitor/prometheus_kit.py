"""Real Prometheus (Debian's `prometheus` package, 2.42) for tests: started and stopped by pid.

Configuration and HTTP API as documented by Prometheus: `scrape_configs[].static_configs`,
`GET /api/v1/targets` (activeTargets[].health "up") and `GET /api/v1/query`
(prometheus.io/docs/prometheus/latest/querying/api/). Listens on loopback only.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")
SCRAPE_LABELS = ("__name__", "job", "instance")  # added by Prometheus itself


def need(tool: str | None, name: str) -> str:
    if tool is None:
        pytest.fail(f"{name} missing: apt-get install -y prometheus (scripts/test does)")
    return tool


Series = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Series:
    """`bcastctl monitor`'s /metrics read with prometheus-client's own parser:
    {(sample name, sorted labels): value}."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}{path}{query}", timeout=5) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expression: str) -> dict[tuple[tuple[str, str], ...], float]:
        """Instant query -> {sorted labels (without __name__, job, instance): value}."""
        out = {}
        for series in self.api("/api/v1/query", query=expression)["result"]:
            labels = tuple(
                sorted((k, v) for k, v in series["metric"].items() if k not in SCRAPE_LABELS)
            )
            out[labels] = float(series["value"][1])
        return out

    def target_up(self) -> bool:
        targets = self.api("/api/v1/targets")["activeTargets"]
        return bool(targets) and all(t["health"] == "up" for t in targets)


@contextlib.contextmanager
def prometheus(
    directory: Path, scrape: str, port: int, interval_s: float = 1
) -> Iterator[Prometheus]:
    """Prometheus scraping http://`scrape`/metrics every `interval_s`."""
    config = {
        "global": {
            "scrape_interval": f"{interval_s:g}s",
            "evaluation_interval": f"{interval_s:g}s",
        },
        "scrape_configs": [
            {"job_name": "bcastctl-monitor", "static_configs": [{"targets": [scrape]}]}
        ],
    }
    (directory / "prometheus.yml").write_text(yaml.safe_dump(config))
    log = open(directory / "prometheus.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [need(PROMETHEUS, "prometheus"), f"--config.file={directory / 'prometheus.yml'}",
         f"--storage.tsdb.path={directory / 'tsdb'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        server = Prometheus(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                server.api("/api/v1/status/buildinfo")
                break
            assert process.poll() is None, (directory / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "prometheus did not start"
            time.sleep(0.2)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
