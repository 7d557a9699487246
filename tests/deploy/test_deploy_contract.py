"""The JSON envelopes of deploy, rollback, status, clusters discover and dns: keys pinned.

Scripts and CI read these; a renamed key is a breaking change and must show up here.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from bcastctl.deploy.discover import DiscoveredCluster, DiscoverResult
from bcastctl.deploy.dns import DnsResult
from bcastctl.deploy.model import (
    DeployResult,
    ObjectChange,
    PodDrain,
    RegionDeploy,
    RegionStatus,
    RollbackResult,
    StatusResult,
)

CONTRACT = {
    DeployResult: {"fleet", "dry_run", "parallel", "regions", "exit_code"},
    RegionDeploy: {
        "region",
        "state",
        "revision",
        "previous_revision",
        "image",
        "changes",
        "diff",
        "gate",
        "failure",
        "hint",
        "rolled_back_to",
        "duration_s",
        "api_calls",
        "warnings",
        "sessions_drained",
        "sessions_cut",
        "drains",
    },
    PodDrain: {"pod", "phase", "sessions", "drained", "cut", "waited_s", "note"},
    ObjectChange: {"action", "kind", "name", "namespace"},
    RollbackResult: {
        "fleet",
        "region",
        "from_revision",
        "to_revision",
        "changes",
        "state",
        "failure",
        "exit_code",
        "sessions_drained",
        "sessions_cut",
        "drains",
    },
    StatusResult: {"fleet", "regions", "exit_code"},
    RegionStatus: {
        "region",
        "reachable",
        "error",
        "revision",
        "applied_at",
        "image",
        "replicas",
        "ready_replicas",
        "gate",
        "last_attempt",
    },
    DiscoverResult: {"project", "clusters", "fleet_file", "notes"},
    DiscoveredCluster: {
        "region",
        "project",
        "location",
        "name",
        "endpoint",
        "status",
        "version",
        "nodes",
        "geo_known",
    },
    DnsResult: {
        "action",
        "project",
        "zone",
        "record",
        "ttl",
        "desired",
        "sources",
        "live",
        "changes",
        "in_sync",
        "change_id",
        "exit_code",
    },
}


@pytest.mark.parametrize("model", list(CONTRACT), ids=lambda m: m.__name__)
def test_envelope_keys_are_pinned(model) -> None:
    assert set(model.__struct_fields__) == CONTRACT[model]


PROBE = """
import sys
from bcastctl.cli.main import run
run({argv!r})
heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('kubernetes', 'nats', 'aiortc')
               or m.startswith('google.cloud'))
print(heavy)
"""


@pytest.mark.parametrize(
    "argv",
    [
        ["deploy", "--help"],
        ["rollback", "--help"],
        ["status", "--help"],
        ["clusters", "discover", "--help"],
        ["dns", "apply", "--help"],
    ],
    ids=" ".join,
)
def test_help_loads_no_cloud_sdk(argv: list[str]) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(argv=argv)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Usage:" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "[]"
