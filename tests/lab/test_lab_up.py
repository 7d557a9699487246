"""`bcastctl lab up` / `status` on examples/lab.yaml: ready, full mesh, idempotent, real latency."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml
from labkit import (
    EXAMPLE_LAB,
    cli,
    connected_gateways,
    full_mesh,
    http_json,
    running_lab,
    small_fleet,
    wait_for,
)

pytestmark = __import__("pytest").mark.slow


def _one_way(a: str, b: str) -> float:
    latency = yaml.safe_load(EXAMPLE_LAB.read_text())["lab"]["latency"]
    return next(float(link["one_way_ms"]) for link in latency if set(link["between"]) == {a, b})


def _ms(duration: str) -> float:
    """NATS durations: '84.57ms', '1.2s', '850µs'."""
    value, unit = re.fullmatch(r"([\d.]+)(ms|s|µs|us|ns)", duration).groups()  # type: ignore[union-attr]
    return float(value) * {"ms": 1, "s": 1000, "µs": 1e-3, "us": 1e-3, "ns": 1e-6}[unit]


def test_up_reaches_ready_with_full_mesh(lab: dict[str, Any]) -> None:
    state = lab["state"]
    assert lab["already_running"] is False
    print(f"\nlab up: ready after {state['ready_after_s']} s")
    assert state["ready_after_s"] > 0
    assert [r["name"] for r in state["regions"]] == ["us-east5", "europe-west9", "asia-southeast1"]
    nodes = [node for region in state["regions"] for node in region["nodes"]]
    assert len(nodes) == 6
    assert len({node["advertise_address"] for node in nodes}) == 6  # each on its own 127.x
    assert all(node["advertise_address"].startswith(state["loopback_prefix"]) for node in nodes)
    assert full_mesh(state)


def test_up_says_ready_only_once_nats_has_measured_every_gateway_rtt(tmp_path: Path) -> None:
    """Right after `lab up` returns, every gateway link's RTT in /gatewayz is measured.

    nats-server times a link with its own PING/PONG and says "0s" until the first PONG:
    `ConnInfo.fill` prints `client.getRTT()`, which returns 0 while `c.rtt` is unset, and
    `c.rtt` is set by `processPong` (nats-io/nats-server server/monitor.go, client.go). A
    gateway's first PING leaves `firstPingInterval` (1 s) plus up to 20 % after the link
    registers (`setFirstPingTimer`, called from gateway.go when the connection is
    registered), so a lab that called gateways "ready" once connected said so while every
    RTT was still 0 (a probe then printed 0.0 ms). Without nodes nothing else delays
    `ready`, so this is where the window is widest.
    """
    fleet = small_fleet(tmp_path / "fleet.yaml")
    with running_lab(fleet, tmp_path / "state", "--no-nodes") as up:
        rtts = {
            (region["name"], peer): gateway["connection"]["rtt"]
            for region in up["state"]["regions"]
            for peer, gateway in http_json(f"{region['nats_monitor_url']}/gatewayz")[
                "outbound_gateways"
            ].items()
        }
    assert set(rtts) == {("east", "west"), ("west", "east")}
    assert all(_ms(rtt) > 0 for rtt in rtts.values()), rtts


def test_status_says_healthy_and_lists_every_region(lab: dict[str, Any], lab_dir: Path) -> None:
    table = cli("lab", "status", "--state-dir", str(lab_dir))
    assert table.returncode == 0, table.stdout + table.stderr
    for region in ("us-east5", "europe-west9", "asia-southeast1"):
        assert f"region {region}" in table.stdout
    assert "full mesh" in table.stdout
    status = json.loads(cli("-o", "json", "lab", "status", "--state-dir", str(lab_dir)).stdout)
    assert status["kind"] == "LabStatus"
    assert status["result"]["healthy"] is True
    assert status["result"]["problems"] == []


def test_up_on_a_running_lab_changes_nothing(lab: dict[str, Any], lab_dir: Path) -> None:
    before = (lab_dir / "state.json").read_text()
    again = cli("lab", "up", "--fleet", str(EXAMPLE_LAB), "--state-dir", str(lab_dir))
    assert again.returncode == 0
    assert "already running" in again.stdout
    assert (lab_dir / "state.json").read_text() == before


def test_gateway_rtt_is_twice_the_configured_one_way_latency(lab: dict[str, Any]) -> None:
    def off_by() -> list[tuple[str, str, float, float]]:
        wrong = []
        for region in lab["state"]["regions"]:
            gatewayz = http_json(f"{region['nats_monitor_url']}/gatewayz")
            for other, gateway in gatewayz["outbound_gateways"].items():
                expected = 2 * _one_way(region["name"], other)
                rtt = _ms(gateway["connection"]["rtt"])
                if not expected - 1 <= rtt <= expected + 10:
                    wrong.append((region["name"], other, rtt, expected))
        return wrong

    # NATS reports one PING/PONG sample, re-measured every 2 s in the lab: a CPU hiccup
    # can spoil one sample, a missing delay (or a wrong route) spoils them all.
    last: list[tuple[str, str, float, float]] = []

    def all_within() -> bool:
        last[:] = off_by()
        return not last

    try:
        wait_for("every gateway RTT within -1/+10 ms of 2x one-way", all_within, 10)
    except AssertionError:
        raise AssertionError(f"(region, other, rtt ms, expected ms) off: {last}") from None


def test_gateways_go_through_the_delay_links(lab: dict[str, Any]) -> None:
    for region in lab["state"]["regions"]:
        gatewayz = http_json(f"{region['nats_monitor_url']}/gatewayz")
        link_ports = {link["to_region"]: link["listen"] for link in region["links"]}
        for other, gateway in gatewayz["outbound_gateways"].items():
            connection = gateway["connection"]
            assert f"{connection['ip']}:{connection['port']}" == link_ports[other]


def test_nodes_resolve_clusterset_names_through_the_lab_dns(lab: dict[str, Any]) -> None:
    state = lab["state"]
    asker = state["regions"][0]["nodes"][0]
    for region in state["regions"]:
        name = f"{region['name']}-broadcaster-headless.broadcaster.svc.clusterset.local"
        answer = http_json(f"{asker['admin_url']}/api/diag/resolve?name={name}")
        expected = {node["advertise_address"] for node in region["nodes"]}
        assert set(answer["addresses"]) == expected, answer


def test_every_node_sees_every_other_after_up(lab: dict[str, Any]) -> None:
    assert wait_for("full mesh", lambda: full_mesh(lab["state"]), timeout=10)
    outbound, inbound = connected_gateways(lab["state"]["regions"][1]["nats_monitor_url"])
    assert outbound == inbound == {"us-east5", "asia-southeast1"}


async def test_system_account_answers_for_every_region(lab: dict[str, Any], lab_dir: Path) -> None:
    """The lab's NATS system user (password from the secrets file) sees all servers."""
    import nats

    from bcastctl.targets.lab_state import load_lab_state, process_secret_env

    state = load_lab_state(lab_dir)
    password = process_secret_env(state, "nats-us-east5")["NATS_SYSTEM_PASSWORD"]
    url = lab["state"]["regions"][0]["nats_client_url"]
    client = await nats.connect(url, user="sys", password=password, connect_timeout=3)
    try:
        inbox = client.new_inbox()
        replies = await client.subscribe(inbox)
        await client.publish("$SYS.REQ.SERVER.PING", b"", reply=inbox)
        names = set()
        for _ in range(3):
            message = await replies.next_msg(timeout=3)
            names.add(json.loads(message.data)["server"]["name"])
    finally:
        await client.close()
    # server_name is the pod name ($POD_NAME from the rendered fieldRef)
    assert names == {"us-east5-nats-0", "europe-west9-nats-0", "asia-southeast1-nats-0"}


def test_generated_nats_passwords_always_parse(tmp_path: Path) -> None:
    import subprocess

    from bcastctl.lab.binaries import nats_server_binary
    from bcastctl.lab.supervisor import new_lab_secrets

    config = tmp_path / "sys.conf"
    config.write_text(
        'listen: "127.0.0.1:0"\n'
        "accounts { SYS: { users: [ { user: sys, password: $NATS_SYSTEM_PASSWORD } ] } }\n"
        "system_account: SYS\n"
    )
    for password in new_lab_secrets({f"s{i}/secret" for i in range(20)}).as_plain().values():
        checked = subprocess.run(
            [str(nats_server_binary()), "-c", str(config), "-t"],
            env={"NATS_SYSTEM_PASSWORD": password},
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert checked.returncode == 0, checked.stderr
