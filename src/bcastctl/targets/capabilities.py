"""What a Target can do beyond the `Target` protocol, as typed capability protocols.

A check or probe that needs more than endpoints asks for the capability by its
protocol (`kube_access(target)`, `whip_token_source(target)`, `emulated_latency(target)`)
and gets a typed value or None; it never tests a target's class or reads an
attribute by name. The kube target offers `KubeAccess`; the lab offers
`WhipTokenSource` (it knows its own secrets), `EmulatedLatency` (its delay links) and
`LabProcesses` (its processes and logs, for bundles).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from bcastctl.errors import UsageError
from bcastctl.fleet import Fleet

if TYPE_CHECKING:
    from bcastctl.adapters.kube import KubeClient
    from bcastctl.targets.base import Target
    from bcastctl.targets.lab_state import LabState


@runtime_checkable
class KubeAccess(Protocol):
    """Each region's Kubernetes API (the "kube" capability)."""

    @property
    def fleet(self) -> Fleet: ...

    async def kube_client(self, region: str) -> KubeClient:
        """The region's API client (ConfigError/UnreachableError if it cannot be built)."""
        ...


@runtime_checkable
class WhipTokenSource(Protocol):
    """A target that knows the fleet's WHIP token (the lab: it generated it)."""

    async def whip_token(self) -> str: ...


@runtime_checkable
class EmulatedLatency(Protocol):
    """A target whose inter-region latency is configured, not measured (the lab's links)."""

    def configured_rtt_ms(self, a: str, b: str) -> float | None: ...


@runtime_checkable
class LabProcesses(Protocol):
    """The lab's own record: its processes, their log files and its secrets file."""

    @property
    def state(self) -> LabState: ...


@runtime_checkable
class GatewayCa(Protocol):
    """A target that can read the fleet's gateway CA (fleet.nats.gateway_tls) of a region:
    the kube target from the region's TLS Secret, the lab from the CA it made."""

    async def gateway_ca(self, region: str) -> str | None:
        """The CA certificate (PEM) the region's gateways trust; None: no gateway TLS."""
        ...


def gateway_ca_source(target: Target) -> GatewayCa | None:
    return target if isinstance(target, GatewayCa) else None


def kube_access(target: Target) -> KubeAccess:
    """The target's Kubernetes access; UsageError when it has none (a check ran off-kube)."""
    if "kube" in target.capabilities and isinstance(target, KubeAccess):
        return target
    raise UsageError(f"the {target.kind} target has no Kubernetes API")


def whip_token_source(target: Target) -> WhipTokenSource | None:
    return target if isinstance(target, WhipTokenSource) else None


def emulated_latency(target: Target) -> EmulatedLatency | None:
    return target if isinstance(target, EmulatedLatency) else None


def lab_processes(target: Target) -> LabProcesses | None:
    return target if "lab" in target.capabilities and isinstance(target, LabProcesses) else None


def kube_access_or_none(target: Target) -> KubeAccess | None:
    return target if "kube" in target.capabilities and isinstance(target, KubeAccess) else None
