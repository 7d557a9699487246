"""examples/ci/github-actions.yml works: the lab job's own `run:` steps, executed as a runner
would (bash, the job's env, `if: always()` / `if: failure()` honoured), pass on a healthy lab
and leave the JUnit file, the JSON and the pages in reports/.

Steps that `uses:` an action (checkout, setup-python, upload-artifact) and the install step
are the runner's business and are skipped; the bcastctl on PATH is this checkout's.
Workflow syntax (`jobs.<id>.steps[*].run|if|env`) as GitHub documents it
(docs.github.com, "Workflow syntax for GitHub Actions").
"""

from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml
from checks_testkit import REPO, lab_fleet

pytestmark = pytest.mark.slow
WORKFLOW = REPO / "examples" / "ci" / "github-actions.yml"


def run_job(job: dict[str, Any], cwd: Path) -> list[tuple[str, int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BCAST", "GITHUB"))}
    env.update({k: str(v) for k, v in job.get("env", {}).items()})
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["NO_COLOR"] = "1"
    ran: list[tuple[str, int]] = []
    failed = False
    for step in job["steps"]:
        if "uses" in step or step.get("name") == "Install bcastctl":
            continue
        condition = step.get("if", "success()")
        if (condition == "failure()" and not failed) or (failed and condition != "always()"
                                                         and condition != "failure()"):  # fmt: skip
            continue
        done = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=240)  # fmt: skip
        ran.append((step["name"], done.returncode))
        failed = failed or done.returncode != 0
        if done.returncode:
            print(step["name"], done.stdout[-2000:], done.stderr[-2000:])
    return ran


def test_lab_job_steps_pass_and_leave_reports(tmp_path: Path) -> None:
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert set(workflow["jobs"]) == {"fleet-smoke", "lab-smoke"}
    fleet_steps = " ".join(s.get("run", "") for s in workflow["jobs"]["fleet-smoke"]["steps"])
    assert "verify mesh --target kube" in fleet_steps and "--junit-file" in fleet_steps
    assert "probe rtt --target kube" in fleet_steps and "--max-rtt" in fleet_steps
    (tmp_path / "examples").mkdir()
    lab_fleet(tmp_path / "examples" / "lab.yaml")  # the example lab, on the tests' prefix
    ran = run_job(workflow["jobs"]["lab-smoke"], tmp_path)
    assert ran == [("Lab up", 0), ("Verify the mesh", 0), ("RTT between regions within budget", 0),
                   ("Lab down", 0)]  # fmt: skip
    reports = tmp_path / "reports"
    suite = ET.parse(reports / "verify-mesh.xml").getroot()
    assert int(suite.get("failures", suite[0].get("failures", "0"))) == 0
    assert '"kind": "RttReport"' in (reports / "probe-rtt.json").read_text()
    assert (reports / "verify-mesh.html").exists() and (reports / "probe-rtt.html").exists()
