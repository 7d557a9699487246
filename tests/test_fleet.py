"""The fleet file: good files load, and every kind of bad file gets one line naming the
file and the key path, exit code 3, and no traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bcastctl.cli.main import run
from bcastctl.fleet import load_fleet

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "fleet.yaml"


def _example() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(EXAMPLE.read_text())


def _set(path: list[str | int], value: object):  # type: ignore[no-untyped-def]
    def change(data: dict) -> None:  # type: ignore[type-arg]
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value

    return change


def _delete(path: list[str | int]):  # type: ignore[no-untyped-def]
    def change(data: dict) -> None:  # type: ignore[type-arg]
        node = data
        for key in path[:-1]:
            node = node[key]
        del node[path[-1]]

    return change


def _append_region(data: dict) -> None:  # type: ignore[type-arg]
    data["regions"].append(dict(data["regions"][0]))


def _latency_for_unknown_pair(data: dict) -> None:  # type: ignore[type-arg]
    data["lab"] = {"latency": [{"between": ["us-east5", "moon-1"], "one_way_ms": 3}]}


# (case id, how to break the example, what the one line must contain)
BROKEN = [
    ("missing field", _delete(["image"]), "image: required key is missing"),
    (
        "missing region field",
        _delete(["regions", 1, "geo"]),
        "regions[1].geo: required key is missing",
    ),
    ("wrong type", _set(["regions", 0, "replicas"], "three"), "regions[0].replicas:"),
    ("unknown key", _set(["regions", 2, "zone"], "a"), "regions[2].zone: unknown key"),
    ("unknown top key", _set(["colour"], "blue"), "colour: unknown key"),
    ("duplicate region", _append_region, "regions[3].name: duplicate region 'us-east5'"),
    (
        "not DNS-1123",
        _set(["regions", 1, "name"], "Europe_West9"),
        "regions[1].name: must match the pattern '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$'",
    ),
    # a trailing newline passes Python's `$`; the patterns end with \Z
    ("name with a trailing newline", _set(["regions", 1, "name"], "eu\n"), "regions[1].name:"),
    ("wrong type of value", _set(["regions", 0, "geo"], "north"), "regions[0].geo: expected"),
    (
        "lat out of range",
        _set(["regions", 2, "geo", "lat"], 91),
        "regions[2].geo.lat: must be at most 90",
    ),
    (
        "lon out of range",
        _set(["regions", 0, "geo", "lon"], -181),
        "regions[0].geo.lon: must be at least -180",
    ),
    (
        "unknown rollout region",
        _set(["rollout", "order"], ["us-east5", "mars-1"]),
        "rollout.order[1]: unknown region 'mars-1'",
    ),
    ("unknown canary", _set(["rollout", "canary"], "mars-1"), "rollout.canary: unknown region"),
    ("replicas < 1", _set(["regions", 0, "replicas"], 0), "regions[0].replicas:"),
    (
        "latency unknown pair",
        _latency_for_unknown_pair,
        "lab.latency[0].between[1]: unknown region 'moon-1'",
    ),
    (
        "bad turn address",
        _set(["regions", 0, "turn_address"], "not-an-ip"),
        "regions[0].turn_address: not an IP address: 'not-an-ip'",
    ),
    ("no regions", _set(["regions"], []), "regions: must have at least 1 item"),
    (
        "bad listener protocol",
        _set(["stunner", "listeners", 0, "protocol"], "SIP"),
        "stunner.listeners[0].protocol: must be one of 'TURN-UDP', 'TURN-TCP', 'TURN-TLS', "
        "'TURN-DTLS'; got 'SIP'",
    ),
    # issue 11.1: nodes hand out TURN REST credentials; STUNner checks them only as
    # `ephemeral` (stunner docs/AUTH.md), so a static fleet could never relay anything.
    ("auth_type static", _set(["stunner", "auth_type"], "static"), "stunner.auth_type: 'static'"),
    # issue 12.7: values that would have broken out of a text template are refused at load
    (
        "image with a newline",
        _set(["image"], 'x:1"\n        securityContext: {privileged: true}\n        a: "'),
        "image:",
    ),
    ("image with upper case", _set(["image"], "ghcr.io/Example/Node:1"), "image:"),
    ("nats image with a space", _set(["nats", "image"], "nats 2.10"), "nats.image:"),
    # the STUNner GatewayConfig CRD's realm pattern (RFC 1123 subdomain)
    ("realm not a subdomain", _set(["stunner", "realm"], "Stunner_Realm"), "stunner.realm:"),
    ("realm with a newline", _set(["stunner", "realm"], "a\nb: c"), "stunner.realm:"),
    # issue 12.9: cross-field checks at load time
    # Gateway API Hostname (HTTPRoute spec.hostnames[]) is at most 253 characters; with
    # region_hosts each region's host is `<region>.<host>` (found by the render property test)
    (
        "region host name too long",
        _set(["signalling", "host"], ".".join(["a" * 60] * 3) + "." + "b" * 47 + ".example.com"),
        "signalling.host: with region_hosts, asia-southeast1's host name is 258 characters",
    ),
    ("max_sessions huge", _set(["node"], {"max_sessions": 1_000_000}), "node.max_sessions:"),
    (
        "signalling == admin",
        _set(["node"], {"signalling_port": 9090, "admin_port": 9090}),
        "node: signalling_port and admin_port are both 9090",
    ),
    (
        "inverted rtc range",
        _set(["node"], {"rtc_port_min": 20000, "rtc_port_max": 10000}),
        "node: rtc_port_min 20000 is above rtc_port_max 10000",
    ),
    (
        "rtc range over the admin port",
        _set(["node"], {"rtc_port_min": 9000, "rtc_port_max": 9999}),
        "node: admin_port 9090 lies in the media range 9000-9999",
    ),
    (
        "rtc range over the signalling port",
        _set(["node"], {"rtc_port_min": 8000, "rtc_port_max": 8080}),
        "node: signalling_port 8080 lies in the media range 8000-8080",
    ),
]


@pytest.mark.parametrize(("case", "change", "expected"), BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_fleet_gives_one_line_with_key_path_and_exit_3(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    case: str,
    change,
    expected: str,  # type: ignore[no-untyped-def]
) -> None:
    data = _example()
    change(data)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    code = run(["--fleet", str(path), "render", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3, err
    first = err.splitlines()[0]
    assert first.startswith(f"error: {path}: "), first
    assert expected in first, first
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists(), "nothing is written for a bad fleet"


@pytest.mark.parametrize(
    ("case", "text", "expected"),
    [
        ("yaml syntax", "name: x\nregions: [\n", "YAML syntax error"),
        ("empty file", "", "empty file"),
        ("not a mapping", "- a\n- b\n", "expected a mapping"),
        # issue 12.9: a RecursionError used to end as exit 70
        ("deeply nested list", "name: " + "[" * 5000, "exceeded maximum nesting depth"),
        ("deeply nested map", "name: " + "{a: " * 5000, "exceeded maximum nesting depth"),
        # YAML 1.2 requires unique keys; PyYAML silently kept the last one
        ("duplicate key", "name: a\nimage: x:1\nname: b\n", ":3:1: duplicate key 'name'"),
        ("not UTF-8", "name: \udcff\n", "not UTF-8"),
    ],
)
def test_unparseable_fleet_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, text: str, expected: str
) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_bytes(text.encode("utf-8", "surrogateescape"))
    code = run(["--fleet", str(path), "render", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 3
    assert err.splitlines()[0].startswith(f"error: {path}")
    assert expected in err.splitlines()[0]


@pytest.mark.timeout(20)
def test_a_fifo_or_a_directory_as_fleet_is_refused_without_blocking(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A FIFO used to block the command forever (reading waits for a writer)."""
    fifo = tmp_path / "fleet.fifo"
    os.mkfifo(fifo)
    for path in (fifo, tmp_path):
        assert run(["--fleet", str(path), "render", "--out", str(tmp_path / "out")]) == 3
        first = capsys.readouterr().err.splitlines()[0]
        assert first == f"error: {path}: cannot read fleet file: not a regular file"
    assert not (tmp_path / "out").exists()


def test_an_oversized_fleet_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text("# padding\n" * 200_000)
    assert run(["--fleet", str(path), "render"]) == 3
    assert "larger than" in capsys.readouterr().err


def test_yaml_syntax_error_names_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text("name: x\nimage: y\nregions:\n  - name: a\n   geo: {lat: 1}\n")
    assert run(["--fleet", str(path), "render"]) == 3
    assert f"{path}:5:" in capsys.readouterr().err


def test_missing_file_names_it_with_a_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["--fleet", str(tmp_path / "nope.yaml"), "render"])
    err = capsys.readouterr().err
    assert code == 3
    assert f"{tmp_path / 'nope.yaml'}: fleet file not found" in err
    assert "hint:" in err


def test_fleet_from_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("BCASTCTL_FLEET", str(EXAMPLE))
    assert run(["-o", "json", "render", "--out", str(tmp_path / "o")]) == 0
    assert '"fleet": "bcast"' in capsys.readouterr().out


def test_no_traceback_from_the_real_command(tmp_path: Path) -> None:
    path = tmp_path / "fleet.yaml"
    path.write_text("name: [unclosed\n")
    result = subprocess.run(
        [sys.executable, "-m", "bcastctl", "--fleet", str(path), "render"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 3
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_examples_load_and_describe_the_reference_regions() -> None:
    fleet = load_fleet(EXAMPLE)
    assert fleet.region_names == ["us-east5", "europe-west9", "asia-southeast1"]
    assert fleet.rollout_order()[0] == "us-east5"
    lab = load_fleet(EXAMPLE.parent / "lab.yaml")
    assert lab.one_way_ms("us-east5", "europe-west9") == 42
    assert lab.one_way_ms("asia-southeast1", "us-east5") == 110
    assert lab.one_way_ms("europe-west9", "asia-southeast1") == 80


def test_an_unreadable_fleet_is_a_config_error_not_a_usage_block(tmp_path: Path) -> None:
    """Issue 12 point 9: an unreadable fleet gave exit 2 and a usage block, for every command.
    Root reads any file, so as root the command runs as nobody (setpriv, util-linux)."""
    path = tmp_path / "fleet.yaml"
    path.write_text(EXAMPLE.read_text())
    path.chmod(0)
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: root can read any file")
        prefix = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups"]
    for command in (["render", "--out", str(tmp_path / "out")], ["status"]):
        result = subprocess.run(
            [*prefix, sys.executable, "-m", "bcastctl", "-f", str(path), *command],
            capture_output=True,
            text=True,
            check=False,
            cwd="/",
            timeout=60,
        )
        assert result.returncode == 3, result.stderr
        lines = result.stderr.strip().splitlines()
        assert lines == [f"error: {path}: cannot read fleet file: Permission denied"], lines
