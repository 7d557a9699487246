"""probe rtt on a lab with another latency matrix: --max-rtt and the client's election.

The lab delays only the links between regions; to put the client nearer to some
regions than others, each region's signalling endpoint is reached through a
loopback TCP delay proxy (tests/probes/delay_proxy.py) with its own latency.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from checks_testkit import TEST_PREFIX, cli, running_lab
from delay_proxy import DelayProxy

from bcastctl.model import replace
from bcastctl.probes.rtt import RttOptions, probe_rtt
from bcastctl.targets.lab import LabTarget
from bcastctl.targets.lab_state import load_lab_state

pytestmark = pytest.mark.slow
ONE_WAY_MS = {("a", "b"): 10, ("a", "c"): 40, ("b", "c"): 25}  # RTT 20, 80, 50
CLIENT_ONE_WAY_MS = {"a": 30, "b": 4, "c": 15}


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    directory = tmp_path_factory.mktemp("election-lab")
    fleet = {
        "name": "election",
        "image": "bcast-node:test",
        "regions": [
            {"name": name, "geo": {"lat": 0, "lon": i}, "replicas": 1}
            for i, name in enumerate("abc")
        ],
        "lab": {
            "loopback_prefix": TEST_PREFIX,
            "latency": [{"between": list(k), "one_way_ms": v} for k, v in ONE_WAY_MS.items()],
        },
    }
    path = directory / "fleet.yaml"
    path.write_text(yaml.safe_dump(fleet))
    with running_lab(path, directory / "state") as state_dir:
        yield state_dir


def test_max_rtt_names_exactly_the_pairs_over_it(lab: Path) -> None:
    done = cli("-o", "json", "probe", "rtt", "--state-dir", str(lab), "--no-client", "-n", "4",
               "--max-rtt", "65")  # fmt: skip
    report = json.loads(done.stdout)["result"]
    assert done.returncode == 1
    assert sorted(report["over_max"]) == ["a->c", "c->a"]  # 80 ms; the others are 20 and 50
    table = cli(
        "probe", "rtt", "--state-dir", str(lab), "--no-client", "-n", "2", "--max-rtt", "65"
    )
    assert table.returncode == 1
    assert "over --max-rtt 65 ms: " in table.stdout
    assert "a->c" in table.stdout.split("over --max-rtt")[1]


async def test_client_elects_the_region_with_the_lowest_rtt_from_here(lab: Path) -> None:
    state = load_lab_state(lab)
    proxies: dict[str, DelayProxy] = {}
    try:
        for region in state.regions:
            node = region.nodes[0]
            host, _, port = node.signalling_url.removeprefix("http://").rpartition(":")
            proxy = DelayProxy(host, int(port), CLIENT_ONE_WAY_MS[region.name])
            proxies[region.name] = await proxy.start()
        regions = [
            replace(r, nodes=[replace(r.nodes[0], signalling_url=proxies[r.name].url)])
            for r in state.regions
        ]
        target = LabTarget(replace(state, regions=regions))
        try:
            report = await probe_rtt(target, RttOptions(samples=2, client_samples=4))
        finally:
            await target.close()
    finally:
        for proxy in proxies.values():
            await proxy.stop()
    election = report.election
    assert election.winner == "b"
    assert set(election.why_not) == {"a", "c"}
    assert all("mean" in why and "(b)" in why for why in election.why_not.values())
    means = {c.region: c.http.mean_ms for c in report.client}
    for region, one_way in CLIENT_ONE_WAY_MS.items():
        mean = means[region]
        assert mean is not None and 2 * one_way - 0.5 <= mean <= 2 * one_way + 25, (region, mean)
    assert all(c.http.received >= 2 for c in report.client)
