"""`bcastctl monitor` on a real lab, scraped by real Prometheus; a cut link flips its series.

Prometheus is Debian's package (2.42) started by the test (prometheus_kit). The metrics
text is also read directly with prometheus-client's own parser
(`prometheus_client.parser.text_string_to_metric_families`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml
from checks_testkit import REPO, cli, lab_fleet, running_lab
from prometheus_kit import Series, prometheus, scrape

from bcastctl.fleet import Monitor, load_fleet
from bcastctl.model import replace
from bcastctl.monitor.serve import EXPORTER_BOUNDS
from bcastctl.render.dashboard import dashboard
from bcastctl.render.monitoring import alert_groups
from bcastctl.targets.lab_state import load_lab_state
from nats_testkit import free_port
from slow_client_kit import status_of, trickle

pytestmark = pytest.mark.slow
A, B, C = "us-east5", "europe-west9", "asia-southeast1"
REGIONS = (A, B, C)
INTERVAL_S = 3  # longer than the lab's peer timeout (2 s): a partition shows within one round


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("monitor-lab")
    with running_lab(lab_fleet(directory / "lab.yaml"), directory / "state") as state_dir:
        yield state_dir


def start_monitor(lab: Path, port: int, *more: str) -> subprocess.Popen[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BCAST")}
    return subprocess.Popen(
        [sys.executable, "-m", "bcastctl", "monitor", "--state-dir", str(lab), "--interval",
         f"{INTERVAL_S}s", "--samples", "3", "--listen", f"127.0.0.1:{port}", *more],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO,
    )  # fmt: skip


def stop_monitor(process: subprocess.Popen[str]) -> tuple[int, str]:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        _, err = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        _, err = process.communicate(timeout=5)
    return process.returncode, err


def value(series: Series, name: str, **labels: str) -> float | None:
    return series.get((name, tuple(sorted(labels.items()))))


def wait_scrape(
    port: int, done: object, what: str, limit_s: float = 60, process: Any = None
) -> Series:
    deadline = time.monotonic() + limit_s
    while True:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"monitor exited {process.returncode}: {process.stderr.read()}")
        try:
            series = scrape(port)
            if done(series):  # type: ignore[operator]
                return series
        except OSError:
            pass
        assert time.monotonic() < deadline, f"not seen within {limit_s:g} s: {what}"
        time.sleep(0.3)


def exported_series(port: int) -> set[str]:
    """Every series name /metrics declares (also families with no sample right now)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    names = set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            suffixes = {"histogram": ("_bucket", "_count", "_sum"), "counter": ("_total",)}
            names |= {name + suffix for suffix in suffixes.get(kind, ("",))}
    return names


def referenced_series(lab: Path) -> set[str]:
    """The series names the rendered alert rules and Grafana dashboard use."""
    fleet = load_fleet(Path(load_lab_state(lab).fleet_path))
    fleet = replace(fleet, monitor=Monitor(enabled=True))
    text = json.dumps(alert_groups(fleet)) + json.dumps(dashboard(fleet))
    return set(re.findall(r"\bbcast_[a-z0-9_]+", text))


def rounds(series: Series) -> float:
    return value(series, "bcast_monitor_rounds_total") or 0.0


def test_prometheus_scrapes_the_series_and_a_cut_link_flips_them(lab: Path, tmp_path: Path):
    port = free_port()
    monitor = start_monitor(lab, port)
    try:
        healthy = wait_scrape(port, lambda s: rounds(s) >= 1, "a first round", process=monitor)
        with prometheus(tmp_path, f"127.0.0.1:{port}", free_port()) as server:
            deadline = time.monotonic() + 30
            while not (server.target_up() and server.query("bcast_gateway_up")):
                assert time.monotonic() < deadline, server.api("/api/v1/targets")
                time.sleep(0.5)
            gateways = server.query("bcast_gateway_up")
            assert len(gateways) == 6 and set(gateways.values()) == {1.0}
            assert len(server.query("bcast_rtt_seconds_count > 0")) == 6  # the histogram
            p50 = server.query("bcast_rtt_p50_seconds")
            assert len(p50) == 6 and all(0.001 < v < 1 for v in p50.values())
            sizes = server.query("bcast_membership_size")
            assert len(sizes) == 6 and set(sizes.values()) == {5.0}  # 3 regions x 2 nodes
            assert server.query("bcast_partitioned") == {(): 0.0}
            assert server.query('bcast_check_status{status="fail"}') == {}
            assert len(server.query("bcast_registry_agreement == 1")) == 6
            assert len(server.query("bcast_turn_allocation_seconds")) == 3
            assert server.query("bcast_root_cause") == {}
        assert value(healthy, "bcast_rtt_loss_ratio", **{"from": A, "to": B}) == 0.0
        assert referenced_series(lab) <= exported_series(port)  # alerts and dashboard

        assert cli("lab", "fault", "cut-link", A, B, "--state-dir", str(lab)).returncode == 0
        try:
            before = rounds(scrape(port))

            def flipped(s: Series) -> bool:
                ends = {"a": min(A, B), "b": max(A, B)}
                return (
                    value(s, "bcast_gateway_up", **{"from": A, "to": B}) == 0
                    and value(s, "bcast_gateway_up", **{"from": B, "to": A}) == 0
                    and value(s, "bcast_partition", **ends) == 1
                    and value(s, "bcast_partitioned") == 1
                )

            cut = wait_scrape(port, flipped, "gateway down and partition")
            assert rounds(cut) - before <= 2, "flipped later than 2 intervals after the cut"
            assert value(cut, "bcast_gateway_up", **{"from": A, "to": C}) == 1  # only that link
            causes = [labels for name, labels in cut if name == "bcast_root_cause"]
            assert len(causes) == 1 and A in dict(causes[0])["cause"], causes
            failing = value(cut, "bcast_check_failing_rounds", check="nats-gateways",
                            scope=f"{A}->{B}")  # fmt: skip
            assert failing is not None and failing >= 1
        finally:
            assert cli("lab", "fault", "heal-link", A, B, "--state-dir", str(lab)).returncode == 0
        wait_scrape(port, lambda s: value(s, "bcast_partitioned") == 0, "healed", limit_s=30)
    finally:
        code, err = stop_monitor(monitor)
    assert code == 0, err
    assert "Traceback" not in err and "round in" in err


async def test_slow_clients_of_the_exporter_are_cut_while_scrapes_go_on(lab: Path) -> None:
    """More slowloris clients than the exporter's connection cap, each sending its headers a
    byte every 250 ms: every one is answered 408 and closed by the header deadline (5 s;
    aiohttp alone would keep them for keepalive_timeout, 3630 s) or refused (503) while
    they hold every slot, and scrapes from another address meanwhile are served (a
    newcomer takes the place of a slow client of an address holding more connections)."""
    port = free_port()
    monitor = start_monitor(lab, port)
    try:
        await asyncio.to_thread(wait_scrape, port, lambda s: rounds(s) >= 1, "a round", 60, monitor)
        head = b"GET /metrics HTTP/1.1\r\nHost: m\r\nX-Slow: " + b"a" * 100
        url = f"http://127.0.0.1:{port}"
        slow = [
            asyncio.create_task(trickle(url, head, 0.25))
            for _ in range(EXPORTER_BOUNDS.max_connections + 16)
        ]
        await asyncio.sleep(0.5)
        connector = aiohttp.TCPConnector(local_addr=("127.0.0.89", 0))  # Prometheus' address
        async with aiohttp.ClientSession(connector=connector) as http:
            for _ in range(5):
                async with http.get(f"{url}/metrics") as response:
                    assert response.status == 200
                    assert "bcast_monitor_rounds_total" in await response.text()
                await asyncio.sleep(0.3)
        for result in await asyncio.gather(*slow):
            assert status_of(result.answer) in (408, 503), result.answer[:200]
            assert result.held_s < EXPORTER_BOUNDS.header_deadline_s + 1.5, result.held_s
    finally:
        code, err = stop_monitor(monitor)
    assert code == 0 and "Traceback" not in err, err


def test_bad_input_is_one_line_and_exit_2(lab: Path) -> None:
    taken = free_port()

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", taken))
        holder.listen()
        for args, needle in (
            (["--listen", "127.0.0.1"], "--listen"),
            (["--listen", "example.com:9100"], "--listen"),
            (["--interval", "0s"], "--interval"),
            (["--listen", f"127.0.0.1:{taken}"], "cannot listen"),
        ):
            done = cli("monitor", "--state-dir", str(lab), *args, timeout=30)
            assert done.returncode == 2, (args, done.stderr)
            assert needle in done.stderr and "Traceback" not in done.stderr


def running(pid: int) -> bool:
    """A live process (a zombie left for an init that does not reap counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_lab_up_monitor_runs_it_and_lab_down_stops_it(tmp_path: Path) -> None:
    fleet = lab_fleet(tmp_path / "lab.yaml", base=REPO / "examples" / "lab.yaml")
    data = yaml.safe_load(fleet.read_text())
    data["regions"] = data["regions"][:2]  # a small lab: this test is about the process
    data["regions"][0]["replicas"] = data["regions"][1]["replicas"] = 1
    data["lab"]["latency"] = []
    data["monitor"] = {"interval_s": 2}
    fleet.write_text(yaml.safe_dump(data))
    state = tmp_path / "state"
    up = cli("lab", "up", "--monitor", "--fleet", str(fleet), "--state-dir", str(state))
    try:
        assert up.returncode == 0, up.stderr
        url = re.search(r"monitor: (http://\S+)/metrics", up.stderr)
        assert url, up.stderr
        port = int(url.group(1).rsplit(":", 1)[1])
        host = url.group(1).split("//")[1].rsplit(":", 1)[0]
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{url.group(1)}/metrics", timeout=5) as response:
                    text = response.read().decode()
                if "bcast_gateway_up{" in text:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "lab's monitor never served a round"
            time.sleep(0.3)
        pid = next(p.pid for p in load_lab_state(state).processes if p.role == "monitor")
    finally:
        down = cli("lab", "down", "--state-dir", str(state))
    assert down.returncode == 0, down.stderr
    assert not running(pid)
    with socket.socket() as probe, pytest.raises(OSError):
        probe.settimeout(1)
        probe.connect((host, port))
