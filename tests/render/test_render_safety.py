"""render is safe with hostile values and hostile output trees (issue 12 points 7-9).

- Values are placed into parsed YAML trees, never pasted into text: even a value that
  bypassed fleet validation stays one scalar (no key, item or document can be added).
- Writes never go through a symbolic link, so a link in the output tree cannot make
  render delete or overwrite anything outside it.
- Output problems are config errors (exit 3) with one line, never internal errors (70).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from bcastctl.cli.main import run
from bcastctl.fleet import Fleet, load_fleet
from bcastctl.model import replace
from bcastctl.render.manifests import BASE_FILES, REGION_FILES, region_manifests
from bcastctl.render.template import placeholders
from bcastctl.render.tree import dump_yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fleet.yaml"
INJECTION = 'x:1"\n          securityContext: {privileged: true}\n          a: "'


def _unvalidated(fleet: Fleet, **changes: Any) -> Fleet:
    """A fleet carrying values the loader would refuse (a copy checks no constraint)."""
    return replace(fleet, **changes)


def _node_container(docs: list[dict[str, Any]], region: str) -> dict[str, Any]:
    for doc in docs:
        if doc["kind"] == "StatefulSet" and doc["metadata"]["name"] == f"{region}-broadcaster":
            container: dict[str, Any] = doc["spec"]["template"]["spec"]["containers"][0]
            return container
    raise AssertionError("no broadcaster StatefulSet")


def test_an_image_value_with_quotes_and_newlines_stays_one_scalar() -> None:
    """The old text templates turned this image into a privileged securityContext (exit 0)."""
    fleet = _unvalidated(load_fleet(EXAMPLE), image=INJECTION)
    docs = region_manifests(fleet, fleet.regions[0]).resolved
    container = _node_container(docs, "us-east5")
    assert container["image"] == INJECTION
    assert container["securityContext"].get("privileged") is None
    assert "a" not in container
    # what is written reads back as the same objects: the value did not escape on disk either
    assert list(yaml.safe_load_all(dump_yaml(docs))) == docs


def test_a_realm_value_cannot_add_keys_to_the_gateway_config() -> None:
    fleet = load_fleet(EXAMPLE)
    bad = replace(fleet.stunner, realm="r\n  authType: static")
    fleet = _unvalidated(fleet, stunner=bad)
    config = next(
        doc
        for doc in region_manifests(fleet, fleet.regions[0]).base
        if doc["kind"] == "GatewayConfig"
    )
    assert config["spec"]["realm"] == "r\n  authType: static"
    assert config["spec"]["authType"] == "ephemeral"


def test_every_template_placeholder_is_supplied() -> None:
    """A placeholder without a value is a KeyError at render time: catch it here."""
    from bcastctl.render.manifests import region_values

    fleet = load_fleet(EXAMPLE)
    values = region_values(fleet, fleet.regions[0])
    for name in [f"base/{n}" for n in BASE_FILES] + [f"region/{n}" for n in REGION_FILES]:
        assert placeholders(name) <= values.keys(), name


def test_a_symlinked_overlays_directory_is_never_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """render used to prune (rmtree) the contents of a foreign directory linked as overlays/."""
    out = tmp_path / "out"
    assert run(["-q", "--fleet", str(EXAMPLE), "render", "--out", str(out)]) == 0
    foreign = tmp_path / "precious"
    (foreign / "old-region").mkdir(parents=True)
    (foreign / "old-region" / "data.txt").write_text("keep me")
    for entry in (out / "overlays").iterdir():
        for file in entry.iterdir():
            file.unlink()
        entry.rmdir()
    (out / "overlays").rmdir()
    (out / "overlays").symlink_to(foreign)

    code = run(["--fleet", str(EXAMPLE), "render", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "overlays is a symbolic link" in err.splitlines()[0]
    assert (foreign / "old-region" / "data.txt").read_text() == "keep me"
    assert sorted(p.name for p in foreign.iterdir()) == ["old-region"]


def test_a_symlinked_output_file_is_not_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert run(["-q", "--fleet", str(EXAMPLE), "render", "--out", str(out)]) == 0
    outside = tmp_path / "outside.yaml"
    outside.write_text("mine")
    target = out / "resolved" / "us-east5.yaml"
    target.unlink()
    target.symlink_to(outside)
    assert run(["--fleet", str(EXAMPLE), "render", "--out", str(out)]) == 2
    assert "resolved/us-east5.yaml is a symbolic link" in capsys.readouterr().err
    assert outside.read_text() == "mine"


@pytest.mark.parametrize(
    ("out", "reason"),
    [
        ("x" * 300, "File name too long"),
        ("a-file/sub", "Not a directory"),
    ],
)
def test_output_problems_are_config_errors_not_internal_errors(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], out: str, reason: str
) -> None:
    (tmp_path / "a-file").write_text("x")
    code = run(["--fleet", str(EXAMPLE), "render", "--out", str(tmp_path / out)])
    err = capsys.readouterr().err
    assert code == 3, err
    assert len(err.strip().splitlines()) == 1
    assert reason in err


def test_bad_input_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["node"] = {"rtc_port_min": 8000, "rtc_port_max": 9000}
    fleet = tmp_path / "fleet.yaml"
    fleet.write_text(yaml.safe_dump(data))
    assert run(["--fleet", str(fleet), "render", "--out", str(tmp_path / "out")]) == 3
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
