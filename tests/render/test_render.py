"""render: the kustomize tree builds to exactly the resolved manifests, everything validates,
regions come and go cleanly, and output is deterministic."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml
from crd_schemas import crd_problems

from bcastctl.cli.main import run
from bcastctl.fleet import load_fleet
from bcastctl.render.manifests import object_key

REGIONS = ["us-east5", "europe-west9", "asia-southeast1"]
K8S_VERSION = "1.33.0"
CRD_GROUPS = ("gateway.networking.k8s.io", "stunner.l7mp.io", "net.gke.io", "networking.gke.io")


def _render(fleet: Path, out: Path, *extra: str) -> None:
    assert run(["-q", "--fleet", str(fleet), "render", "--out", str(out), *extra]) == 0


def _docs(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def _by_key(docs: list[dict[str, Any]]) -> dict[tuple[str, str, str, str], dict[str, Any]]:
    return {object_key(doc): doc for doc in docs}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render") / "out"
    _render(Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml", out)
    return out


def _fleet_with(tmp_path: Path, source: Path, change: Any) -> Path:
    data = yaml.safe_load(source.read_text())
    change(data)
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_tree_has_base_overlays_and_resolved(rendered: Path) -> None:
    assert (rendered / "base" / "kustomization.yaml").is_file()
    for region in REGIONS:
        assert (rendered / "overlays" / region / "kustomization.yaml").is_file()
        assert (rendered / "resolved" / f"{region}.yaml").is_file()


@pytest.mark.kubectl
@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed"
)
@pytest.mark.parametrize("region", REGIONS)
def test_kustomize_builds_exactly_the_resolved_objects(rendered: Path, region: str) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(rendered / "overlays" / region)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    kustomized = _by_key([doc for doc in yaml.safe_load_all(built) if doc])
    resolved = _by_key(_docs(rendered / "resolved" / f"{region}.yaml"))
    assert kustomized.keys() == resolved.keys()
    for key, doc in resolved.items():
        assert kustomized[key] == doc, key


@pytest.mark.parametrize("region", REGIONS)
def test_builtin_objects_validate_against_kubernetes_schemas(rendered: Path, region: str) -> None:
    checked = 0
    for doc in _docs(rendered / "resolved" / f"{region}.yaml"):
        if doc["apiVersion"].split("/")[0] in CRD_GROUPS:
            continue
        kubernetes_validate.validate(doc, K8S_VERSION, strict=True)
        checked += 1
    assert checked >= 14


@pytest.mark.parametrize("region", REGIONS)
def test_stunner_and_mcs_objects_match_the_kept_schemas(rendered: Path, region: str) -> None:
    custom = [
        doc
        for doc in _docs(rendered / "resolved" / f"{region}.yaml")
        if doc["apiVersion"].split("/")[0] in CRD_GROUPS
    ]
    kinds = sorted({doc["kind"] for doc in custom})
    expected = ["Gateway", "GatewayClass", "GatewayConfig", "ServiceExport", "UDPRoute"]
    if region == "us-east5":  # the config cluster also holds the signalling entry
        expected = sorted([*expected, "HTTPRoute", "HealthCheckPolicy"])
    assert kinds == expected
    assert [problem for doc in custom for problem in crd_problems(doc)] == []


def test_kept_schemas_catch_a_broken_gateway() -> None:
    gateway = {
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "g", "namespace": "n"},
        "spec": {"gatewayClassName": "c", "listeners": [{"name": "udp", "port": 70000}]},
    }
    problems = crd_problems(gateway)
    assert any("protocol" in p for p in problems)
    assert any("70000" in p for p in problems)


def _nats_conf(out: Path, region: str) -> str:
    for doc in _docs(out / "resolved" / f"{region}.yaml"):
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"] == f"{region}-nats-config":
            return str(doc["data"]["nats.conf"])
    raise AssertionError(f"no NATS config for {region}")


def test_each_nats_config_names_its_region_and_dials_every_other_at_its_mcs_name(
    rendered: Path,
) -> None:
    for region in REGIONS:
        conf = _nats_conf(rendered, region)
        assert f"gateway {{\n  name: {region}\n" in conf
        assert "system_account: SYS" in conf
        for other in REGIONS:
            url = f"nats://{other}-nats-gateway.broadcaster.svc.clusterset.local:7222"
            assert (url in conf) == (other != region), (region, other)


def test_a_fourth_region_joins_every_gateway_list_and_leaving_removes_it(
    tmp_path: Path, example_fleet_path: Path
) -> None:
    def add(data: dict[str, Any]) -> None:
        data["regions"].append(
            {
                "name": "southamerica-east1",
                "cluster": {"context": "sa"},
                "geo": {"lat": -23.5, "lon": -46.6},
                "turn_address": "34.95.1.2",
            }
        )

    out = tmp_path / "out"
    _render(_fleet_with(tmp_path, example_fleet_path, add), out)
    url = "nats://southamerica-east1-nats-gateway.broadcaster.svc.clusterset.local:7222"
    for region in REGIONS:
        assert url in _nats_conf(out, region)
    exports = {
        doc["metadata"]["name"]
        for doc in _docs(out / "resolved" / "southamerica-east1.yaml")
        if doc["kind"] == "ServiceExport"
    }
    assert exports == {
        "southamerica-east1-broadcaster-headless",
        "southamerica-east1-nats-gateway",
        "southamerica-east1-broadcaster",  # signalling, for the global HTTPS entry
    }

    _render(example_fleet_path, out)
    for region in REGIONS:
        assert "southamerica-east1" not in _nats_conf(out, region)
    assert not (out / "overlays" / "southamerica-east1").exists()
    assert not (out / "resolved" / "southamerica-east1.yaml").exists()


def test_rendering_twice_gives_identical_bytes(tmp_path: Path, example_fleet_path: Path) -> None:
    first, second = tmp_path / "a", tmp_path / "b"
    _render(example_fleet_path, first)
    _render(example_fleet_path, second)
    files = sorted(p.relative_to(first) for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second) for p in second.rglob("*") if p.is_file())
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def test_secrets_are_referenced_never_inlined(rendered: Path) -> None:
    text = "".join(p.read_text() for p in rendered.rglob("*.yaml"))
    assert "kind: Secret\n" not in text
    fleet = load_fleet(Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml")
    env = next(
        doc
        for doc in _docs(rendered / "resolved" / "us-east5.yaml")
        if doc["kind"] == "StatefulSet" and doc["metadata"]["name"] == "us-east5-broadcaster"
    )["spec"]["template"]["spec"]["containers"][0]["env"]
    secret_refs = {
        e["valueFrom"]["secretKeyRef"]["name"]
        for e in env
        if "secretKeyRef" in e.get("valueFrom", {})
    }
    assert secret_refs == {
        fleet.secrets.cluster,
        fleet.secrets.whip_token,
        fleet.secrets.turn,
        fleet.secrets.nats_node,
    }


def test_single_region_render_writes_only_that_overlay(
    tmp_path: Path, example_fleet_path: Path
) -> None:
    _render(example_fleet_path, tmp_path / "out", "--region", "europe-west9")
    assert sorted(p.name for p in (tmp_path / "out" / "overlays").iterdir()) == ["europe-west9"]


def test_unknown_region_is_a_config_error(
    tmp_path: Path, example_fleet_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(
        ["--fleet", str(example_fleet_path), "render", "--out", str(tmp_path / "o"), "-r", "mars-1"]
    )
    assert code == 3
    assert "unknown region 'mars-1'" in capsys.readouterr().err


def test_refuses_to_write_into_a_foreign_non_empty_directory(
    tmp_path: Path, example_fleet_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code = run(["--fleet", str(example_fleet_path), "render", "--out", str(tmp_path)])
    assert code == 2
    assert "not written by bcastctl render" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_json_output_is_an_envelope_with_every_region(
    tmp_path: Path, example_fleet_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import json

    code = run(
        ["-o", "json", "--fleet", str(example_fleet_path), "render", "--out", str(tmp_path / "o")]
    )
    assert code == 0
    data = json.loads(capsys.readouterr().out)
    assert data["apiVersion"] == "bcastctl.io/v1"
    assert data["kind"] == "RenderResult"
    assert [r["region"] for r in data["result"]["regions"]] == REGIONS


def test_the_human_view_is_one_aligned_row_per_region(
    tmp_path: Path, example_fleet_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "o"
    assert run(["--fleet", str(example_fleet_path), "render", "--out", str(out)]) == 0
    title, header, *rows = capsys.readouterr().out.splitlines()
    assert title == f"Rendered fleet bcast into {out}"
    assert header.split("  ")[0] == "REGION" and "RESOLVED MANIFESTS" in header
    assert [row.split()[0] for row in rows] == REGIONS
    # as `kubectl get` aligns them: every row's path starts under its header
    column = header.index("RESOLVED MANIFESTS")
    assert all(row[column:] == str(out / "resolved" / f"{row.split()[0]}.yaml") for row in rows)
    assert rows[0].split()[1:3] == ["30", "3"]  # us-east5: objects, nodes


RENDER_PROBE = """
import sys
from bcastctl.cli.main import run
code = run(["--fleet", {fleet!r}, "render", "--out", {out!r}])
heavy = {{'rich', 'pydantic', 'jsonschema', 'kubernetes', 'aiohttp', 'nats'}}
print(code, sorted(m for m in sys.modules if m.split('.')[0] in heavy))
"""


def test_render_loads_no_heavy_library(tmp_path: Path, example_fleet_path: Path) -> None:
    """What a real render costs at start-up (bench/cli_help.py): no rich (its view is plain
    text), no schema validator (the fleet model carries the CRDs' rules), no SDK."""
    probe = RENDER_PROBE.format(fleet=str(example_fleet_path), out=str(tmp_path / "o"))
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "0 []"
