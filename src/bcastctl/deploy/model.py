"""What deploy, rollback and status return (rendered by report/deploy_view.py)."""

from __future__ import annotations

from typing import Literal

from bcastctl.model import FrozenModel

RolloutState = Literal[
    "deployed", "unchanged", "failed", "rolled-back", "not-started", "dry-run", "preflight-failed"
]
ChangeAction = Literal["create", "update", "delete"]
DrainPhase = Literal["rollout", "rollback"]


class ObjectChange(FrozenModel):
    action: ChangeAction
    kind: str
    name: str
    namespace: str | None = None

    @property
    def ref(self) -> str:
        where = f"{self.namespace}/" if self.namespace else ""
        return f"{self.kind}/{where}{self.name}"


class PodDrain(FrozenModel):
    """One broadcaster pod drained before the rollout (or the rollback after it) replaced it
    (deploy/drain.py)."""

    pod: str
    phase: DrainPhase = "rollout"
    sessions: int = 0  # live when the drain began
    drained: int = 0  # ended during the drain
    cut: int = 0  # still live at the drain deadline
    waited_s: float = 0.0
    note: str | None = None  # why it was replaced undrained (no drain API, unreachable)


class RegionDeploy(FrozenModel):
    region: str
    state: RolloutState
    revision: int | None = None  # the revision live in the region after this run
    previous_revision: int | None = None  # the revision that was live before
    image: str = ""
    changes: list[ObjectChange] = []
    diff: str = ""  # --dry-run: unified diff against what is live
    gate: Literal["passed", "failed", "skipped"] | None = None
    failure: str | None = None  # what failed and why
    hint: str | None = None
    rolled_back_to: int | None = None
    duration_s: float = 0.0
    api_calls: int = 0  # requests to this region's API server during the run (preflight included)
    warnings: list[str] = []  # preflight warnings (e.g. a gateway certificate expiring soon)
    sessions_drained: int = 0  # sessions that ended while their pod drained
    sessions_cut: int = 0  # sessions still live when their pod's drain deadline passed
    drains: list[PodDrain] = []  # per replaced pod, in rollout order


class DeployResult(FrozenModel):
    fleet: str
    dry_run: bool
    parallel: bool
    regions: list[RegionDeploy]
    exit_code: int


class RollbackResult(FrozenModel):
    fleet: str
    region: str
    from_revision: int | None
    to_revision: int
    changes: list[ObjectChange]
    state: Literal["rolled-back", "failed"]
    failure: str | None = None
    exit_code: int
    sessions_drained: int = 0  # the broadcaster is rolled back behind drains, as in deploy
    sessions_cut: int = 0
    drains: list[PodDrain] = []


class RegionStatus(FrozenModel):
    region: str
    reachable: bool
    error: str | None = None
    revision: int | None = None
    applied_at: str | None = None
    image: str | None = None
    replicas: int | None = None
    ready_replicas: int | None = None
    gate: str | None = None  # gate result of the live revision
    last_attempt: str | None = None  # a failed (rolled back) attempt after it, if any


class StatusResult(FrozenModel):
    fleet: str
    regions: list[RegionStatus]
    exit_code: int
