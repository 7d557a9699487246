"""JUnit XML of a verify run: one testsuite per check, one testcase per check and scope.

fail -> <failure>, warn -> <failure> only with --strict (else system-out),
skip -> <skipped message=reason>. CI systems (GitLab, Jenkins, GitHub actions
reporters) read this shape. Written even when every region was unreachable.
"""

from __future__ import annotations

import contextlib
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

from bcastctl.checks.base import CheckResult, Status
from bcastctl.checks.report import CheckReport
from bcastctl.errors import BcastError, UsageError


def _testcase(suite: ET.Element, result: CheckResult, strict: bool, fleet: str) -> None:
    case = ET.SubElement(
        suite,
        "testcase",
        name=f"{result.check} [{result.scope}]",
        classname=f"{fleet}.{result.check}",
    )
    case.set("time", "0")
    detail = result.message + (f"\nhint: {result.hint}" if result.hint else "")
    if result.status == Status.fail or (strict and result.status == Status.warn):
        failure = ET.SubElement(case, "failure", message=result.message, type=result.status.value)
        failure.text = detail
    elif result.status == Status.skip:
        ET.SubElement(case, "skipped", message=result.message)
    else:
        ET.SubElement(case, "system-out").text = detail


def junit_xml(report: CheckReport, command: str = "verify mesh") -> bytes:
    root = ET.Element("testsuites", name=f"bcastctl {command} {report.fleet}")
    by_check: dict[str, list[CheckResult]] = {}
    for result in report.results:
        by_check.setdefault(result.check, []).append(result)
    total = failures = skipped = 0
    for check, results in by_check.items():
        suite = ET.SubElement(root, "testsuite", name=check)
        failed = sum(
            1
            for r in results
            if r.status == Status.fail or (report.strict and r.status == Status.warn)
        )
        skips = sum(1 for r in results if r.status == Status.skip)
        suite.set("tests", str(len(results)))
        suite.set("failures", str(failed))
        suite.set("errors", "0")
        suite.set("skipped", str(skips))
        for result in results:
            _testcase(suite, result, report.strict, report.fleet)
        total, failures, skipped = total + len(results), failures + failed, skipped + skips
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    root.set("skipped", str(skipped))
    root.set("time", f"{report.duration_s:.3f}")
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text


def setup_failure_xml(error: BcastError) -> bytes:
    """One failed testcase "setup" when no check could run (no lab state, no cluster)."""
    root = ET.Element("testsuites", name="bcastctl verify mesh", tests="1", failures="1")
    suite = ET.SubElement(root, "testsuite", name="setup", tests="1", failures="1")
    suite.set("errors", "0")
    suite.set("skipped", "0")
    case = ET.SubElement(suite, "testcase", name="setup", classname="verify")
    failure = ET.SubElement(case, "failure", message=error.message, type="setup")
    failure.text = error.message + (f"\nhint: {error.hint}" if error.hint else "")
    ET.indent(root)
    text: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return text


@contextlib.contextmanager
def junit_on_setup_error(path: Path | None) -> Iterator[None]:
    """Write a one-case JUnit file if the block raises a BcastError, then let it go on."""
    try:
        yield
    except BcastError as e:
        if path is not None:
            with contextlib.suppress(OSError):
                path.write_bytes(setup_failure_xml(e))
        raise


def write_junit(report: CheckReport, path: Path, command: str = "verify mesh") -> None:
    try:
        path.write_bytes(junit_xml(report, command))
    except OSError as e:
        raise UsageError(f"--junit-file {path}: cannot write: {e.strerror or e}") from e
