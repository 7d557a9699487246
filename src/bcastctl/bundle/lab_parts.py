"""What a bundle takes from the lab: each process's log (the region's NATS server and nodes
under the region, the shared link daemon, DNS, TURN and monitor under `lab/`) and the lab's
state file. The lab's generated secrets are read only to redact them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from bcastctl.bundle.parts import RegionParts
from bcastctl.bundle.timeline import log_entries
from bcastctl.errors import BcastError
from bcastctl.model import to_data
from bcastctl.targets.lab_state import LabState, load_lab_secrets

LOG_TAIL_BYTES = 1024 * 1024


def lab_secret_values(state: LabState) -> list[str]:
    try:
        return list(load_lab_secrets(state).as_plain().values())
    except BcastError:
        return []


def _tail(path: str) -> str | None:
    try:
        with Path(path).open("rb") as log:
            log.seek(0, 2)
            size = log.tell()
            log.seek(max(0, size - LOG_TAIL_BYTES))
            return log.read().decode(errors="replace")
    except OSError:
        return None


def region_of(state: LabState, process_name: str) -> str | None:
    """The region a lab process belongs to: a node by its recorded region, a NATS server by
    its name (`nats-<region>`); None for the lab-wide ones (links, DNS, TURN, monitor)."""
    for node in state.nodes:
        if node.name == process_name:
            return node.region
    for region in state.regions:
        if process_name == f"nats-{region.name}":
            return region.name
    return None


def collect_lab(state: LabState, parts: dict[str, RegionParts], since: datetime) -> RegionParts:
    """Logs into each region's parts; the lab-wide ones (and the state) into the returned parts."""
    shared = RegionParts("lab")
    shared.files["lab/lab-state.json"] = json.dumps(to_data(state), indent=1)
    for process in state.processes:
        region = region_of(state, process.name)
        target = parts.get(region) if region else None
        text = _tail(process.log_file)
        if text is None:
            (target or shared).unreachable[f"log {process.name}"] = "log file not readable"
            continue
        if target is not None:
            target.add(f"logs/{process.name}.log", text)
        else:
            shared.files[f"lab/logs/{process.name}.log"] = text
        (target or shared).timeline += log_entries(region or "lab", process.name, text, since)
    return shared
