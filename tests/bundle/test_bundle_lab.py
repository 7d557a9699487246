"""`bcastctl bundle` of a real lab with one region's NATS killed, then `analyze` offline.

Acceptance of issue 17: exit 0 with that region's NATS recorded unreachable and every
other part present; no planted secret anywhere in the archive (the lab's generated
secrets, plus a password and a bearer token planted in a node's log); `analyze` names the
same root cause `verify mesh` named at that moment.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from bundle_kit import bundle_files, bundle_json, leaks
from checks_testkit import cli, lab_fleet, running_lab, verify

from bcastctl.targets.lab_state import load_lab_secrets, load_lab_state

pytestmark = pytest.mark.slow
A, B, C = "us-east5", "europe-west9", "asia-southeast1"
PLANTED = ["planted-lab-password-31337", "planted-lab-bearer-27182"]


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("bundle-lab")
    with running_lab(lab_fleet(directory / "lab.yaml"), directory / "state") as state_dir:
        yield state_dir


def test_bundle_with_a_dead_nats_then_analyze_offline(lab: Path, tmp_path: Path) -> None:
    state = load_lab_state(lab)
    planted_in = next(node.name for node in state.nodes if node.region == B)
    node_log = next(p.log_file for p in state.processes if p.name == planted_in)
    with open(node_log, "a") as log:  # a credential leaked into a log line
        log.write(f"ERROR retry with password={PLANTED[0]} Authorization: Bearer {PLANTED[1]}\n")
    assert cli("lab", "fault", "kill-nats", A, "--state-dir", str(lab)).returncode == 0
    _, seen = verify(lab)
    out = tmp_path / "lab.tar.gz"
    done = cli("-o", "json", "bundle", "--state-dir", str(lab), "-f", str(out), "--since", "1h")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)["result"]
    assert result["path"] == str(out) and result["size_bytes"] == out.stat().st_size

    files = bundle_files(out)
    regions = {r["name"]: r for r in bundle_json(files, "manifest.json")["regions"]}
    assert any(part.startswith("nats") for part in regions[A]["unreachable_parts"])
    assert regions[B]["unreachable_parts"] == regions[C]["unreachable_parts"] == {}
    for region in (B, C):
        for page in ("varz", "gatewayz", "routez", "connz"):
            assert f"regions/{region}/nats/server-0/{page}.json" in files
    for region, node in ((r, f"{r}-broadcaster-{i}") for r in (A, B, C) for i in (0, 1)):
        assert f"regions/{region}/nodes/{node}/cluster.json" in files
        assert f"regions/{region}/nodes/{node}/metrics.txt" in files
        assert f"regions/{region}/logs/{node}.log" in files
    assert {"verify-mesh.json", "probe-rtt.json", "timeline.jsonl", "fleet.yaml"} <= set(files)
    secrets = list(load_lab_secrets(lab).as_plain().values())
    assert len(secrets) >= 4 and leaks(files, [*secrets, *PLANTED]) == []

    analyzed = cli("-o", "json", "analyze", str(out))
    assert analyzed.returncode == 1, analyzed.stderr  # checks had failed: as verify said
    causes = [c["cause"] for c in json.loads(analyzed.stdout)["result"]["root_causes"]]
    assert causes == result["root_causes"]  # what verify found while the bundle was made
    # and the deepest cause is the one a separate `verify mesh` named just before
    assert causes[0] == seen["root_causes"][0]["cause"]
    assert A in causes[0] and "NATS" in causes[0], causes
    table = cli("analyze", str(out))
    assert "Root causes:" in table.stdout and "incomplete regions: us-east5" in table.stderr


def test_analyze_refuses_what_is_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    done = cli("analyze", str(junk))
    assert done.returncode == 3 and "not a readable bcastctl bundle" in done.stderr
    assert "Traceback" not in done.stderr
