"""mcs-dns's verdict on one /api/diag/resolve answer, table-driven, no lab."""

from __future__ import annotations

from typing import Any

import pytest

from bcastctl.checks.mcs_dns import resolve_problem
from bcastctl.targets.base import DnsExpectation

NAME = "b-nats-gateway.broadcaster.svc.clusterset.local"

CASES = [
    ("resolves, any address will do", None, {"addresses": ["10.0.0.1"], "error": None}, None),
    ("NXDOMAIN", None, {"name": NAME, "addresses": [], "error": "NXDOMAIN"}, f"{NAME}: NXDOMAIN"),
    ("empty answer", None, {"addresses": []}, f"{NAME}: no addresses"),
    ("expected addresses, in any order", ("10.0.0.2", "10.0.0.1"),
     {"addresses": ["10.0.0.1", "10.0.0.2"]}, None),
    ("wrong addresses", ("10.0.0.1",), {"addresses": ["10.9.9.9"]},
     f"{NAME}: 10.9.9.9 (expected 10.0.0.1)"),
]  # fmt: skip


@pytest.mark.parametrize(("case", "want", "answer", "problem"), CASES, ids=[c[0] for c in CASES])
def test_resolve_problem(
    case: str, want: tuple[str, ...] | None, answer: dict[str, Any], problem: str | None
) -> None:
    assert resolve_problem(DnsExpectation(NAME, "b", want), answer) == problem
