"""The check registry: every line loads, names are unique, needs are known."""

from __future__ import annotations

from bcastctl.checks.registry import CHECKS, load_checks


def test_every_registered_check_loads_with_a_unique_name() -> None:
    checks = load_checks()
    assert len(checks) == len(CHECKS)
    names = [check.name for check in checks]
    assert len(set(names)) == len(names)
    assert {"nats-gateways", "membership", "registry", "mcs-dns", "turn", "media"} <= set(names)
    for check in checks:
        assert check.title and check.layer
        assert set(check.needs) <= {"kube", "lab", "media"}
    assert next(c for c in checks if c.name == "media").needs == {"media"}
