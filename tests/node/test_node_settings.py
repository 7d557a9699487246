"""Settings from the environment with flags overriding; bad values are one line, exit 3.

Each setting is declared once (node/settings.py); these tests hold the things derived
from the declaration together: flags, env names, messages, render's environment.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bcastctl.errors import ConfigError
from bcastctl.fleet import load_fleet
from bcastctl.node.settings import NodeSettings, declared, load_settings
from bcastctl.render.tree import render_tree

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

BASE = {"BCAST_CLUSTER_SECRET": "s3cret-value", "BCAST_NODE_NAME": "n1", "BCAST_REGION": "r1"}


def test_environment_then_flags() -> None:
    env = {
        **BASE,
        "BCAST_NATS_URL": "nats://10.0.0.1:4222, nats://10.0.0.2:4222",
        "BCAST_BIND_ADDRESS": "127.0.0.9",
        "BCAST_EXPECTED_NODES": "6",
        "BCAST_DNS_SERVER": "127.0.0.53:5353",
        "BCAST_LAT": "48.86",
    }
    settings = load_settings(env, {"lat": 1.5, "region": "r9"})
    assert settings.nats_urls == ("nats://10.0.0.1:4222", "nats://10.0.0.2:4222")
    assert settings.advertise_address == "127.0.0.9"  # follows a specific bind address
    assert (settings.lat, settings.region, settings.expected_nodes) == (1.5, "r9", 6)
    assert settings.dns_server == ("127.0.0.53", 5353)
    assert (settings.heartbeat_interval_s, settings.peer_timeout_s) == (0.5, 2.0)
    assert "s3cret-value" not in repr(settings)
    assert settings.public_dict()["cluster_secret"] is True


@pytest.mark.parametrize(
    ("env", "overrides", "message"),
    [
        ({"BCAST_LAT": "north"}, {}, "BCAST_LAT='north': expected a number"),
        ({}, {"lat": 91.0}, "--lat=91.0: must be between -90 and 90"),
        ({"BCAST_NATS_URL": "http://x"}, {}, "must start with nats://"),
        ({"BCAST_ADVERTISE_ADDRESS": "node-1"}, {}, "expected an IP address"),
        ({"BCAST_ICE_POLICY": "relay"}, {}, "BCAST_ICE_POLICY=relay needs BCAST_TURN_URLS"),
        ({"BCAST_TURN_URLS": "turn:1.2.3.4:3478"}, {}, "BCAST_TURN_SECRET is not"),
        ({"BCAST_PEER_TIMEOUT": "0.4"}, {}, "must be longer than"),
        ({"BCAST_NODE_NAME": "a b"}, {}, "BCAST_NODE_NAME='a b'"),
        ({"BCAST_CLUSTER_SECRET": ""}, {}, "BCAST_CLUSTER_SECRET is not set"),
        ({}, {"max_sessions": "many"}, "--max-sessions=many: expected an integer"),
        ({"BCAST_MAX_SESSIONS": "0"}, {}, "BCAST_MAX_SESSIONS='0': must be between 1 and"),
        # a rule between settings names each one where it came from
        ({}, {"ice_policy": "relay"}, "--ice-policy=relay needs BCAST_TURN_URLS"),
        ({"BCAST_PEER_TIMEOUT": "0.4"}, {"heartbeat_interval_s": "1"}, "--heartbeat-interval=1"),
        # the ICE port range: both 0, or 1024 <= min <= max <= 65535 clear of the HTTP ports
        ({"BCAST_RTC_PORT_MIN": "40000"}, {}, "BCAST_RTC_PORT_MIN=40000, BCAST_RTC_PORT_MAX=0"),
        ({}, {"rtc_port_min": "100", "rtc_port_max": "200"}, "--rtc-port-min=100, --rtc-port"),
        ({}, {"rtc_port_min": "50000", "rtc_port_max": "40000"}, "need 1024 <= min <= max"),
        (
            {"BCAST_RTC_PORT_MIN": "9000", "BCAST_RTC_PORT_MAX": "9100"},
            {},
            "BCAST_ADMIN_PORT=9090 is inside the ICE port range",
        ),
        ({"BCAST_CONNECT_DEADLINE": "soon"}, {}, "BCAST_CONNECT_DEADLINE='soon': expected a"),
        ({"BCAST_EVENT_LOOP": "twisted"}, {}, "expected one of uvloop, asyncio"),
        ({"BCAST_PROXY_APPENDS": "0"}, {}, "BCAST_PROXY_APPENDS='0': must be between 1 and 4"),
    ],
)
def test_bad_values_name_the_setting(
    env: dict[str, str], overrides: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        load_settings({**BASE, **env}, overrides)
    assert message in error.value.message


def test_serve_with_a_bad_value_exits_3_with_one_line() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bcastctl", "node", "serve", "--signalling-port", "70000"],
        env={"BCAST_CLUSTER_SECRET": "s3cret-value", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 3
    assert result.stderr.strip() == "error: --signalling-port=70000: must be between 0 and 65535"
    assert "s3cret-value" not in result.stderr + result.stdout


def test_serve_help_teaches_every_setting() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bcastctl", "node", "serve", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0
    for setting in declared():
        var = setting.env
        assert var in result.stdout
        assert setting.flag is None or setting.flag in result.stdout


def test_defaults_of_the_added_settings_keep_todays_behaviour() -> None:
    settings = load_settings(BASE)
    assert (settings.rtc_port_min, settings.rtc_port_max) == (0, 0)  # any port, as aioice does
    assert (settings.nats_user, settings.nats_password) == ("", "")  # no NATS auth
    assert settings.connect_deadline_s == 10.0
    assert settings.max_connecting == 100
    assert settings.drain_deadline_s == 30.0
    pinned = load_settings({**BASE, "BCAST_RTC_PORT_MIN": "40000", "BCAST_RTC_PORT_MAX": "40099"})
    assert (pinned.rtc_port_min, pinned.rtc_port_max) == (40000, 40099)


def test_every_setting_has_a_flag_or_is_a_secret() -> None:
    for setting in declared():
        assert (setting.flag is None) == setting.secret, setting.key
        assert setting.env.startswith("BCAST_"), setting.key
    envs = [s.env for s in declared()]
    flags = [s.flag for s in declared() if s.flag]
    assert len(envs) == len(set(envs)) and len(flags) == len(set(flags))


def test_secrets_come_only_from_the_environment_and_never_show() -> None:
    env = {**BASE, "BCAST_WHIP_TOKEN": "tok-value", "BCAST_NATS_USER": "node"}
    env["BCAST_NATS_PASSWORD"] = "pw-value"
    settings = load_settings(env, {"whip_token": "from-a-flag", "nats_password": "flag-pw"})
    assert (settings.whip_token, settings.nats_password) == ("tok-value", "pw-value")
    shown = settings.public_dict()
    secrets = [s.key for s in declared() if s.secret]
    assert set(secrets) >= {"cluster_secret", "whip_token", "turn_secret", "nats_password"}
    assert all(shown[key] in (True, False) for key in secrets)
    for text in (repr(settings), str(shown)):
        assert "tok-value" not in text and "pw-value" not in text and "s3cret" not in text
    with pytest.raises(AttributeError):
        settings.whip_token = "changed"  # type: ignore[misc]


def test_render_writes_only_declared_environment(tmp_path: Path) -> None:
    """The broadcaster container's environment, as rendered, uses the declared names."""
    render_tree(load_fleet(EXAMPLES / "fleet.yaml"), tmp_path)
    declared_envs = {s.env for s in declared()}
    written: set[str] = set()
    for path in tmp_path.rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict) or doc.get("kind") != "StatefulSet":
                continue
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container.get("args", [])[:2] == ["node", "serve"]:
                    written |= {var["name"] for var in container.get("env", [])}
    assert written, "no broadcaster container found in the rendered tree"
    assert written <= declared_envs, written - declared_envs
    secret_refs = {s.env for s in declared() if s.secret} & written
    assert NodeSettings.cluster_secret.env in secret_refs


def test_a_secret_has_no_flag() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bcastctl", "node", "serve", "--whip-token", "x"],
        env={"BCAST_CLUSTER_SECRET": "s3cret-value", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "No such option" in result.stderr


def test_time_settings_take_the_cli_duration_syntax() -> None:
    env = {**BASE, "BCAST_DRAIN_DEADLINE": "2m", "BCAST_TURN_TTL": "1h"}
    settings = load_settings(env, {"heartbeat_interval_s": "500ms", "peer_timeout_s": "3"})
    assert settings.drain_deadline_s == 120.0 and settings.turn_ttl_s == 3600
    assert (settings.heartbeat_interval_s, settings.peer_timeout_s) == (0.5, 3.0)
    with pytest.raises(ConfigError, match=r"^BCAST_TURN_TTL='90.5': must be whole seconds"):
        load_settings({**BASE, "BCAST_TURN_TTL": "90.5"})
    with pytest.raises(ConfigError, match=r"^--drain-deadline=2d: expected a duration"):
        load_settings(BASE, {"drain_deadline_s": "2d"})
