"""One `lab up` in progress: the plan, the processes started so far, the state they make.

`Launch.spawn` starts a process and at once rewrites the state file, so a lab that
fails halfway is still fully described for `lab down`.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bcastctl.fleet import Fleet
from bcastctl.lab import procs, turn
from bcastctl.lab.addresses import LabPlan, RegionPlan
from bcastctl.lab.dnsd import CLUSTER_DOMAIN, CLUSTERSET_DOMAIN
from bcastctl.lab.pods import ProcessSpec
from bcastctl.lab.rendered import RegionObjects
from bcastctl.model import replace
from bcastctl.targets.lab_state import (
    LAB_ID_ENV,
    SECRETS_FILE,
    DelayLinkState,
    DnsState,
    LabDifference,
    LabSecrets,
    LabState,
    LinkdState,
    NodeState,
    ProcessState,
    RegionState,
    TurnState,
    save_lab_state,
)

# Variables a lab process must not inherit from whoever runs `lab up`.
_SCRUBBED_PREFIXES = ("BCAST_", "NATS_", LAB_ID_ENV)


def child_base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def control_socket_path(state_dir: Path) -> str:
    """linkd's socket in the state dir, or in the temp dir when that path is too long."""
    path = str(state_dir.resolve() / "linkd.sock")
    if len(path) < 100:
        return path
    digest = hashlib.sha256(path.encode()).hexdigest()[:16]
    return str(Path(tempfile.gettempdir()) / f"bcastctl-linkd-{digest}.sock")


def start_process(process: ProcessState, secrets: LabSecrets, lab_id: str, cwd: Path) -> int:
    """Start a lab process as recorded; secrets go into its environment only."""
    env = child_base_env() | process.env | {LAB_ID_ENV: lab_id}
    env |= secrets.resolve(process.secret_env)
    started = procs.spawn(process.argv, env=env, log_file=Path(process.log_file), cwd=cwd)
    return started.pid


@dataclass
class Launch:
    fleet: Fleet
    fleet_path: Path
    state_dir: Path
    plan: LabPlan
    secrets: LabSecrets
    with_nodes: bool
    objects: list[RegionObjects]
    turn_auth: turn.TurnAuth | None
    turn_off_reason: str | None
    rendered_from: str  # "fleet" or the render output directory
    differences: list[LabDifference] = field(default_factory=list)
    whip_token_ref: str = ""  # the Secret the nodes' BCAST_WHIP_TOKEN references
    processes: list[ProcessState] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    # Tags every process's environment, so a process started just before `up` died
    # (and never recorded) is still found and stopped by `down`.
    lab_id: str = field(default_factory=lambda: secrets.token_hex(8))

    @property
    def with_turn(self) -> bool:
        return self.turn_auth is not None

    @property
    def secrets_file(self) -> Path:
        return self.state_dir / SECRETS_FILE

    @property
    def control_socket(self) -> str:
        return control_socket_path(self.state_dir)

    def spawn(self, role: str, name: str, spec: ProcessSpec) -> int:
        process = ProcessState(
            role=role,
            name=name,
            pid=0,
            log_file=str(self.state_dir / "logs" / f"{name}.log"),
            argv=spec.argv,
            env=spec.env,
            secret_env=spec.secret_env,
        )
        pid = start_process(process, self.secrets, self.lab_id, self.state_dir)
        self.processes.append(replace(process, pid=pid))
        save_lab_state(self.snapshot())
        return pid

    def pid_of(self, name: str) -> int | None:
        for process in self.processes:
            if process.name == name:
                return process.pid
        return None

    def first_death(self) -> str | None:
        """A reason to give up: the first started process that is no longer running."""
        for process in self.processes:
            if not procs.is_alive(process.pid):
                how = procs.exit_description(process.pid)
                tail = procs.log_tail(process.log_file)
                return f"{process.name} (pid {process.pid}) {how}: {tail or 'no output'}"
        return None

    def _region_state(self, region: RegionPlan) -> RegionState:
        links = [
            DelayLinkState(
                from_region=link.from_region,
                to_region=link.to_region,
                listen=f"{link.listen_host}:{link.listen_port}",
                target=f"{link.target_host}:{link.target_port}",
                one_way_ms=link.one_way_ms,
                current_one_way_ms=link.one_way_ms,
            )
            for link in region.links
        ]
        nodes = [
            NodeState(
                name=node.name,
                region=region.name,
                advertise_address=node.address,
                signalling_url=f"http://{node.address}:{node.signalling_port}",
                admin_url=f"http://{node.address}:{node.admin_port}",
                pid=self.pid_of(node.name),
            )
            for node in (region.nodes if self.with_nodes else [])
        ]
        return RegionState(
            name=region.name,
            index=region.index,
            nats_client_url=f"nats://{region.host}:{region.client_port}",
            nats_monitor_url=f"http://{region.host}:{region.monitor_port}",
            nats_gateway_listen=f"{region.host}:{region.gateway_port}",
            nats_pid=self.pid_of(f"nats-{region.name}"),
            links=links,
            nodes=nodes,
        )

    def _turn_state(self) -> TurnState:
        if self.turn_auth is None:
            reason = self.turn_off_reason or turn.NOT_INSTALLED
            return TurnState(address=None, urls=[], realm=None, pid=None, reason=reason)
        return TurnState(
            address=f"{self.plan.turn_host}:{self.plan.turn_port}",
            urls=turn.turn_urls(self.plan),
            realm=self.turn_auth.realm,
            pid=self.pid_of("turn"),
            reason=None,
            secret_ref=self.turn_auth.secret_ref,
        )

    def snapshot(self, ready_after_s: float | None = None) -> LabState:
        endpoints = self.plan.endpoints(with_nodes=self.with_nodes, with_turn=self.with_turn)
        return LabState(
            fleet_name=self.fleet.name,
            namespace=self.fleet.namespace,
            fleet_path=str(self.fleet_path.resolve()),
            state_dir=str(self.state_dir.resolve()),
            loopback_prefix=self.plan.prefix,
            secrets_file=str(self.secrets_file.resolve()),
            started_at=self.started_at,
            ready_after_s=ready_after_s,
            regions=[self._region_state(region) for region in self.plan.regions],
            dns=DnsState(
                address=f"{self.plan.dns_host}:{self.plan.dns_port}",
                pid=self.pid_of("dns"),
                domains=[CLUSTERSET_DOMAIN, CLUSTER_DOMAIN],
            ),
            turn=self._turn_state(),
            linkd=LinkdState(pid=self.pid_of("linkd"), control_socket=self.control_socket),
            processes=list(self.processes),
            with_nodes=self.with_nodes,
            endpoints=[f"{transport}:{host}:{port}" for transport, host, port in endpoints],
            lab_id=self.lab_id,
            rendered_from=self.rendered_from,
            differences=list(self.differences),
            whip_token_ref=self.whip_token_ref,
        )
