"""The lab runs render's NATS config with only its address substitutions (fast, no lab).

Syntax per nats-server's `conf/lex.go`: keys and values separated by `=`, `:` or
whitespace; entries ended by newline, `,` or `;`; `#`/`//` comments; unquoted values end
at whitespace, `,`, `;`, `]`, `}`. The rewritten config is checked by the real
nats-server (`-t`), with the environment variables it references set.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from labkit import EXAMPLE_LAB

from bcastctl.errors import ConfigError
from bcastctl.fleet import load_fleet
from bcastctl.lab import nats_syntax, substitutions
from bcastctl.lab.addresses import plan_lab
from bcastctl.lab.binaries import nats_server_binary
from bcastctl.lab.rendered import NATS_APP, from_fleet
from bcastctl.lab.workloads import lab_zone

TRICKY = """\
# comment
server_name = $POD_NAME   // trailing comment
listen 0.0.0.0:4222
http: "0.0.0.0:8222"; max_payload: 2MB
ping_interval: "7s"
authorization { user: a, password: $PASS, permissions: { publish: ["x.>", 'y'] } }
gateway {
  name: east
  listen: 0.0.0.0:7222
  gateways: [
    {name: west, url: "nats://west-nats-gateway.ns.svc.clusterset.local:7222"},
    { name: "far", urls: [ "nats://far:7222" ] }
  ]
}
"""


def _plan():
    fleet = load_fleet(EXAMPLE_LAB)
    objects = from_fleet(fleet)
    shapes = [substitutions.region_shape(region) for region in objects]
    return fleet, objects, plan_lab(fleet, shapes, "127.231")


def test_parser_reads_every_form_nats_accepts() -> None:
    top = nats_syntax.parse(TRICKY)
    assert [entry.key for entry in top.entries] == [
        "server_name",
        "listen",
        "http",
        "max_payload",
        "ping_interval",
        "authorization",
        "gateway",
    ]
    gateway = top.get("gateway")
    assert isinstance(gateway, nats_syntax.Block)
    gateways = gateway.get("gateways")
    assert isinstance(gateways, nats_syntax.Array) and len(gateways.items) == 2
    listen = top.get("listen")
    assert isinstance(listen, nats_syntax.Scalar) and listen.value == "0.0.0.0:4222"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("gateway {\n  name: x\n", "line 3: unexpected end of file (missing '}')"),
        ('listen: "0.0.0.0:4222\n', "unterminated string"),
        ("include ./other.conf\n", "`include` is not supported"),
    ],
)
def test_malformed_configs_are_one_line_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        nats_syntax.parse(text, "x.conf")


def test_rewrite_changes_addresses_only_and_keeps_every_other_setting() -> None:
    _, _, plan = _plan()
    region = plan.regions[0]
    text, differences = substitutions.lab_nats_config(TRICKY, "t.conf", region)
    for kept in ("max_payload: 2MB", 'ping_interval: "7s"', "permissions: { publish", "$PASS"):
        assert kept in text
    assert f'listen "{region.host}:{region.client_port}"' in text
    assert f'advertise: "{region.gateway_advertise}"' in text
    # the gateway to a fleet region goes through its delay link; an unknown one is reported
    link = next(link for link in region.links if link.to_region == "europe-west9")
    assert "west-nats-gateway" in text  # "west" is not a lab region: left, and reported
    assert any(d.kind == "not honoured" and "gateways[west]" in d.where for d in differences)
    assert all(link.listen_host not in d.lab for d in differences if "[far]" in d.where)
    wheres = {d.where for d in differences}
    assert {"nats.conf listen", "nats.conf http", "nats.conf gateway.advertise"} <= wheres


def test_the_lab_config_of_every_region_is_valid_for_nats_server(tmp_path: Path) -> None:
    fleet, objects, plan = _plan()
    for region_objects, region in zip(objects, plan.regions, strict=True):
        _, rendered = substitutions.nats_config_text(
            region_objects, region_objects.workload(NATS_APP)
        )
        text, differences = substitutions.lab_nats_config(rendered, "r.conf", region)
        assert 'ping_interval: "2s"' in text  # as rendered: fresh gateway RTT in production too
        config = tmp_path / f"{region.name}.conf"
        config.write_text(text)
        # every variable the rendered container sets (secrets as a test value)
        container = region_objects.workload(NATS_APP).container
        env = {e["name"]: "stest" for e in container["env"]} | {"POD_NAME": "p-0"}
        checked = subprocess.run(
            [str(nats_server_binary()), "-c", str(config), "-t"],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        assert checked.returncode == 0, checked.stderr
        urls = [d.lab for d in differences if ".url" in d.where]
        assert sorted(urls) == sorted(
            f'"nats://{link.listen_host}:{link.listen_port}"' for link in region.links
        )
    assert fleet.region_names == [region.name for region in plan.regions]


def test_node_environment_is_the_rendered_one_plus_the_listed_substitutions(
    tmp_path: Path,
) -> None:
    fleet, objects, plan = _plan()
    services = substitutions.LabServices(
        dns="127.231.0.53:5353", turn_urls=[], port_offset=0, expected_nodes=6
    )
    spec = substitutions.node_process(
        objects[0], plan.regions[0], 1, services, fleet.namespace, tmp_path
    )
    node = plan.regions[0].nodes[1]
    rendered = {
        e["name"]: e.get("value") for e in objects[0].workload("broadcaster").container["env"]
    }
    changed = {d.where.rsplit(" ", 1)[1]: d.lab for d in spec.differences if " env " in d.where}
    for name, value in rendered.items():
        if value is not None and name not in changed:
            assert spec.env[name] == value  # as rendered
    assert spec.env["BCAST_NODE_NAME"] == node.name == "us-east5-broadcaster-1"  # fieldRef
    assert spec.env["BCAST_ADVERTISE_ADDRESS"] == spec.env["BCAST_BIND_ADDRESS"] == node.address
    assert spec.env["BCAST_NATS_URL"] == f"nats://{plan.regions[0].host}:4222"
    assert spec.env["BCAST_EXPECTED_NODES"] == "6"
    assert set(changed) >= {"BCAST_NATS_URL", "BCAST_BIND_ADDRESS", "BCAST_EXPECTED_NODES"}
    # secrets stay references, filled only in the process's environment at start
    assert spec.secret_env["BCAST_WHIP_TOKEN"] == f"{fleet.secrets.whip_token}/secret"
    assert not any("secret" in value for value in spec.env.values())


def test_the_lab_dns_answers_every_rendered_service_name() -> None:
    fleet, objects, plan = _plan()
    zone = lab_zone(plan, objects, fleet.namespace, with_nodes=True)
    ns, us = fleet.namespace, plan.regions[0]
    for service in objects[0].of_kind("Service"):
        assert f"{service['metadata']['name']}.{ns}.svc.cluster.local." in zone
    exported = {doc["metadata"]["name"] for doc in objects[0].of_kind("ServiceExport")}
    assert {f"{name}.{ns}.svc.clusterset.local." for name in exported} <= set(zone)
    assert zone[f"us-east5-nats-client.{ns}.svc.cluster.local."] == [us.host]
    headless = f"us-east5-broadcaster-0.us-east5-broadcaster-headless.{ns}.svc.cluster.local."
    assert zone[headless] == [us.nodes[0].address]
