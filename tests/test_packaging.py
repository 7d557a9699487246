"""The wheel the node image builds carries the templates and renders the example fleet.

The image's build stage (media/Dockerfile) copies a few paths into its context and runs
`pip wheel .` there; this test copies exactly those paths (read from the Dockerfile), builds
the wheel the same way, installs it into a new virtualenv and renders examples/fleet.yaml
with it, from a directory outside the checkout. Before, templates/ reached the wheel only
through the symlink src/bcastctl/templates, which the image's context did not have
(issue 11 point 9).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import sysconfig
import venv
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _build_context_paths() -> list[str]:
    """What the Dockerfile's build stage copies from the context (COPY <src>... <dest>)."""
    text = (ROOT / "media" / "Dockerfile").read_text()
    build_stage = text.split("FROM ")[1]
    paths: list[str] = []
    for line in build_stage.splitlines():
        match = re.match(r"^COPY\s+(?!--from)(.+)\s+\S+$", line.strip())
        if match:
            paths += match.group(1).split()
    return paths


def test_a_wheel_built_from_the_image_context_renders_the_example_fleet(tmp_path: Path) -> None:
    context = tmp_path / "context"
    context.mkdir()
    paths = _build_context_paths()
    assert "templates" in paths and "src" in paths
    for path in paths:
        source = ROOT / path
        if source.is_dir():
            shutil.copytree(source, context / path, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(source, context / path)
    wheels = tmp_path / "wheels"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "--wheel-dir",
            str(wheels),
            str(context),
        ],
        check=True,
        timeout=300,
    )
    (wheel,) = wheels.glob("bcastctl-*.whl")

    # a fresh venv with this wheel; its dependencies are read from the test venv's
    # site-packages (a path entry, whose .pth files, e.g. the editable install, do not run)
    fresh = tmp_path / "venv"
    venv.create(fresh, with_pip=False)
    python = fresh / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    (Path(site) / "deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            str(wheel),
        ],
        check=True,
        timeout=300,
    )

    work = tmp_path / "elsewhere"
    work.mkdir()
    result = subprocess.run(
        [str(python), "-c", "import bcastctl; print(bcastctl.__file__)"],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    )
    assert result.stdout.startswith(site), "the wheel's bcastctl, not the checkout's"
    render = subprocess.run(
        [
            str(python),
            "-m",
            "bcastctl",
            "-q",
            "-f",
            str(ROOT / "examples" / "fleet.yaml"),
            "render",
            "--out",
            "out",
        ],
        cwd=work,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert render.returncode == 0, render.stderr
    docs = list(yaml.safe_load_all((work / "out" / "resolved" / "us-east5.yaml").read_text()))
    kinds = {doc["kind"] for doc in docs if doc}
    assert {"StatefulSet", "NetworkPolicy", "GatewayConfig", "UDPRoute"} <= kinds
    # the node in that image serves its pages (node/pages.py) from the same wheel
    listed = subprocess.run(
        [
            str(python),
            "-c",
            "from importlib import resources; "
            "print(' '.join(sorted(p.name for p in "
            "(resources.files('bcastctl.node') / 'static').iterdir())))",
        ],
        cwd=work,
        check=True,
        capture_output=True,
        text=True,
    )
    pages = {"watch.html", "watch.js", "publish.html", "publish.js", "rtc.js", "player.css"}
    assert pages <= set(listed.stdout.split()), listed.stdout
