"""The one model base (bcastctl/model.py, msgspec Structs): what `-o json` prints of a model,
how data from outside becomes one, and that a secret never shows. Fast lane: no server."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bcastctl.bundle.analyze import analyze_bundle
from bcastctl.bundle.archive import ROOT
from bcastctl.errors import ConfigError
from bcastctl.lab.status import LabStatus
from bcastctl.model import InvalidData, Secret, parse, parse_json, replace, to_data
from bcastctl.probes.model import PairRtt
from bcastctl.probes.stats import SampleStats, summarize
from bcastctl.targets.lab_state import (
    LabSecrets,
    LabState,
    load_lab_secrets,
    load_lab_state,
    write_lab_secrets,
)

STATS = SampleStats(sent=2, received=2, loss_pct=0, min_ms=84, p50_ms=84.5, p95_ms=85,
                    p99_ms=85, max_ms=85, mean_ms=84.5, jitter_ms=1)  # fmt: skip


def test_a_whole_number_in_a_float_field_prints_as_a_float() -> None:
    """The JSON contract kept from pydantic: a float field says 84.0 however it was built."""
    data = to_data(STATS)
    assert json.dumps(data).startswith('{"sent": 2, "received": 2, "loss_pct": 0.0, "min_ms": 84.0')
    assert to_data(replace(STATS, max_ms=90))["max_ms"] == 90.0
    assert type(to_data(replace(STATS, max_ms=90))["max_ms"]) is float


def test_the_json_of_a_pair_has_no_samples_and_keeps_its_field_order() -> None:
    pair = PairRtt(from_region="a", to_region="b", from_node=None, to_node=None,
                   stats=summarize([84.0, 85.0], 0), gateway_rtt_ms=None,
                   configured_rtt_ms=None)  # fmt: skip
    assert list(to_data(pair)) == [
        "from_region", "to_region", "from_node", "to_node", "stats", "gateway_rtt_ms",
        "gateway_rtt_note", "configured_rtt_ms", "error",
    ]  # fmt: skip


def _status(problems: list[str]) -> LabStatus:
    return LabStatus(state_dir="s", fleet_name="f", fleet_path="p", loopback_prefix="127.77",
                     ready_after_s=None, dns_address="d", dns_running=True, turn_address=None,
                     turn_running=False, turn_note=None, linkd_running=True, regions=[],
                     problems=problems)  # fmt: skip


def test_lab_status_says_healthy_last_and_never_disagrees_with_its_problems() -> None:
    assert list(to_data(_status([])))[-1] == "healthy"
    assert _status([]).healthy is True
    assert _status(["NATS a is not running"]).healthy is False
    assert to_data(replace(_status([]), problems=["x"]))["healthy"] is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"values": {"a/secret": 1}}, "values[...]: expected str, got int"),
        ({"values": {}, "extra": 1}, "extra: unknown key"),
        ({}, "values: required key is missing"),
        ([], "expected object, got array"),
    ],
)
def test_data_from_outside_is_checked_with_its_key_path(data: Any, message: str) -> None:
    with pytest.raises(InvalidData) as caught:
        parse(LabSecrets, data)
    assert str(caught.value) == message


def test_numbers_as_text_are_read_as_numbers() -> None:
    """Lax like pydantic was: "3" is an int where an int is expected, 3.0 too."""
    stats = parse(SampleStats, {**to_data(STATS), "sent": "3", "received": 3.0})
    assert (stats.sent, stats.received) == (3, 3)


def test_a_secret_never_shows_in_repr_str_or_data(tmp_path: Path) -> None:
    secrets = LabSecrets(values={"turn/secret": Secret("s3cr3t-value")})
    for shown in (repr(secrets), str(secrets), json.dumps(to_data(secrets))):
        assert "s3cr3t-value" not in shown and "**********" in shown
    write_lab_secrets(tmp_path / "secrets.json", secrets)
    assert load_lab_secrets(tmp_path / "secrets.json").get("turn/secret") == "s3cr3t-value"


def test_a_broken_lab_state_is_one_line_naming_the_file_and_key(tmp_path: Path) -> None:
    (tmp_path / "state.json").write_text('{"version": 1, "fleet_name": 3}')
    with pytest.raises(ConfigError) as caught:
        load_lab_state(tmp_path)
    assert caught.value.message == (
        f"{tmp_path / 'state.json'}: invalid lab state: fleet_name: expected str, got int"
    )
    (tmp_path / "state.json").write_text("{not json")
    with pytest.raises(ConfigError, match="invalid lab state: not JSON"):
        load_lab_state(tmp_path)
    with pytest.raises(InvalidData, match="not JSON"):
        parse_json(LabState, b'{"version": 1')


def test_a_bundle_this_version_cannot_read_names_the_key(tmp_path: Path) -> None:
    import tarfile

    path = tmp_path / "b.tar.gz"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({"path": "x"}))
    with tarfile.open(path, "w:gz") as archive:
        archive.add(manifest, arcname=f"{ROOT}/manifest.json")
        archive.add(manifest, arcname=f"{ROOT}/verify-mesh.json")
    with pytest.raises(ConfigError) as caught:
        analyze_bundle(path)
    assert caught.value.message.startswith(f"{path}: not a bundle this bcastctl reads: ")
    assert "required key is missing" in caught.value.message
