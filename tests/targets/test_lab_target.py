"""LabTarget over a lab state: endpoints, reachability and HTTP errors, against real servers."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bcastctl.model import replace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "checks"))
from checks_testkit import NatsRegions, free_port

from bcastctl.errors import UnreachableError
from bcastctl.targets.base import Endpoint, get_json, http_get
from bcastctl.targets.lab import LabTarget
from bcastctl.targets.lab_state import DelayLinkState

pytestmark = pytest.mark.slow  # starts NATS servers


@pytest.fixture
def nats_regions(tmp_path: Path) -> Iterator[NatsRegions]:
    regions = NatsRegions.start(tmp_path, ["east", "west"])
    try:
        yield regions
    finally:
        regions.stop()


async def test_region_endpoints_come_from_the_state(nats_regions: NatsRegions) -> None:
    target = LabTarget(nats_regions.lab_state(), nats_regions.fleet())
    try:
        east = await target.region("east", timeout_s=2)
        assert [m.url for m in east.nats_monitors] == [nats_regions.region("east").monitor]
        names = {e.name: e for e in east.dns_expectations}
        gateway = names["west-nats-gateway.broadcaster.svc.clusterset.local"]
        assert gateway.of_region == "west" and gateway.addresses == ("127.0.0.1",)
        assert east.turn.host is None and east.turn.absent_reason == "not in this test"
        varz = await get_json(target, east.nats_monitors[0], "/varz")
        assert varz["gateway"]["name"] == "east"
    finally:
        await target.close()


async def test_dead_region_is_unreachable_and_names_itself(nats_regions: NatsRegions) -> None:
    nats_regions.region("west").stop()
    target = LabTarget(nats_regions.lab_state(), nats_regions.fleet())
    try:
        with pytest.raises(UnreachableError, match="lab region west"):
            await target.region("west", timeout_s=1)
        await target.region("east", timeout_s=1)  # the other region is still there
    finally:
        await target.close()


async def test_http_errors_name_the_url(nats_regions: NatsRegions) -> None:
    target = LabTarget(nats_regions.lab_state(), nats_regions.fleet())
    nowhere = Endpoint("east", f"http://127.0.0.1:{free_port()}")
    monitor = Endpoint("east", nats_regions.region("east").monitor)
    try:
        with pytest.raises(UnreachableError, match=f"{nowhere.url}/varz"):
            await http_get(target, nowhere, "/varz", timeout_s=1)
        missing = await http_get(target, monitor, "/no-such-page")
        assert missing.status == 404  # a status is an answer, not an error
        with pytest.raises(UnreachableError, match="HTTP 404"):
            await get_json(target, monitor, "/no-such-page")
    finally:
        await target.close()


def test_configured_rtt_follows_the_links_current_delay(nats_regions: NatsRegions) -> None:
    state = nats_regions.lab_state()

    def link(a: str, b: str, ms: float) -> DelayLinkState:
        return DelayLinkState(
            from_region=a, to_region=b, listen="127.0.0.1:1", target="127.0.0.1:2",
            one_way_ms=20, current_one_way_ms=ms,
        )  # fmt: skip

    regions = [
        replace(state.regions[0], links=[link("east", "west", 20)]),
        replace(state.regions[1], links=[link("west", "east", 35)]),
    ]
    target = LabTarget(replace(state, regions=regions), nats_regions.fleet())
    assert target.configured_rtt_ms("east", "west") == 55
    assert target.configured_rtt_ms("east", "nowhere") is None
