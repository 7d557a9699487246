"""Every registered check follows the typed contract others build on (fast, no target).

Its module exports NAME (the check's name, which rootcause, the monitor and reports import
instead of spelling it); each of its Findings names that check; a check that needs the
Kubernetes API derives KubeCheck and so gets a typed KubeAccess, never the target's class.
"""

from __future__ import annotations

import inspect
import sys

import pytest

from bcastctl.checks.base import Check, Finding, KubeCheck
from bcastctl.checks.registry import load_checks

CHECKS = load_checks()


@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
def test_check_module_exports_its_name_and_findings(check: Check) -> None:
    module = sys.modules[type(check).__module__]
    assert check.name == module.NAME
    findings = [
        cls
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, Finding) and cls is not Finding and cls.__module__ == module.__name__
    ]
    assert all(finding.check == check.name for finding in findings)
    source = inspect.getsource(module)
    assert "isinstance(ctx.target" not in source and "getattr(ctx.target" not in source


@pytest.mark.parametrize("check", CHECKS, ids=[c.name for c in CHECKS])
def test_kube_checks_get_typed_kubernetes_access(check: Check) -> None:
    assert ("kube" in check.needs) == isinstance(check, KubeCheck)
