"""Settings from the environment with flags overriding; bad values are one line, exit 3."""

from __future__ import annotations

import subprocess
import sys

import pytest

from bcastctl.errors import ConfigError
from bcastctl.node.settings import load_settings

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
    for var in (
        "BCAST_NATS_URL",
        "BCAST_ADVERTISE_ADDRESS",
        "BCAST_EXPECTED_NODES",
        "BCAST_PEER_TIMEOUT",
        "BCAST_CLUSTER_SECRET",
        "BCAST_WHIP_TOKEN",
    ):
        assert var in result.stdout
