"""The Cloud DNS geolocation record that sends TURN clients to the nearest region.

One A record (fleet.dns.record) with a geo routing policy: per region (its name is the
GCP location) the STUNner Gateway's live public address, read through each cluster's
API (or, with `from_fleet`, the fleet's `turn_address`). `plan` shows the change,
`apply` makes it in one Cloud DNS change, `verify` compares the live record with the
live STUNner addresses.
"""

from __future__ import annotations

import asyncio

from bcastctl.adapters.clouddns import CloudDns, GeoItem, geo_items, geo_record
from bcastctl.deploy.connect import connect_regions
from bcastctl.errors import BcastError, ConfigError, ExitCode
from bcastctl.fleet import Dns, Fleet
from bcastctl.model import FrozenModel
from bcastctl.targets.kube import gateway_address


class DnsResult(FrozenModel):
    action: str  # plan | apply | verify
    project: str
    zone: str
    record: str
    ttl: int
    desired: dict[str, list[str]]  # location -> addresses
    sources: dict[str, str]  # location -> "live Gateway" | "fleet turn_address" | why none
    live: dict[str, list[str]] | None  # None: no such record yet
    changes: list[str]  # "+ loc: a", "- loc: a", "~ loc: a -> b"
    in_sync: bool
    change_id: str | None = None
    exit_code: int = 0


def _dns(fleet: Fleet) -> Dns:
    if fleet.dns is None:
        raise ConfigError(
            "the fleet file has no dns section",
            hint="add dns: {project, zone, record} (see examples/fleet.yaml)",
        )
    return fleet.dns


async def stunner_addresses(
    fleet: Fleet, from_fleet: bool, kubeconfig: str | None, context: str | None
) -> tuple[dict[str, list[str]], dict[str, str]]:
    addresses: dict[str, list[str]] = {}
    sources: dict[str, str] = {}
    live: dict[str, str | None] = {}
    if not from_fleet:
        connected = await connect_regions(fleet, None, kubeconfig, context, 10.0)
        try:
            gateways = await asyncio.gather(
                *(
                    connected.clients[r].get(
                        "gateway.networking.k8s.io/v1",
                        "Gateway",
                        f"{r}-turn-gateway",
                        fleet.namespace,
                    )
                    for r in connected.regions
                ),
                return_exceptions=True,
            )
        finally:
            connected.close()
        for name, gateway in zip(connected.regions, gateways, strict=True):
            if isinstance(gateway, BaseException) and not isinstance(gateway, BcastError):
                raise gateway
            live[name] = None if isinstance(gateway, BaseException) else gateway_address(gateway)
    for region in fleet.regions:
        if live.get(region.name):
            addresses[region.name], sources[region.name] = [str(live[region.name])], "live Gateway"
        elif region.turn_address:
            addresses[region.name] = [region.turn_address]
            sources[region.name] = "fleet turn_address" + (
                "" if from_fleet else " (no live Gateway address)"
            )
        else:
            sources[region.name] = "no address: no live Gateway address, no turn_address"
    return addresses, sources


def diff(desired: dict[str, list[str]], live: dict[str, list[str]] | None) -> list[str]:
    live = live or {}
    lines: list[str] = []
    for location in sorted(set(desired) | set(live)):
        want, have = desired.get(location), live.get(location)
        if want == have:
            continue
        if have is None:
            lines.append(f"+ {location}: {', '.join(want or [])}")
        elif want is None:
            lines.append(f"- {location}: {', '.join(have)}")
        else:
            lines.append(f"~ {location}: {', '.join(have)} -> {', '.join(want)}")
    return lines


async def dns_run(
    fleet: Fleet,
    action: str,
    *,
    from_fleet: bool = False,
    kubeconfig: str | None = None,
    context: str | None = None,
) -> DnsResult:
    """plan (read only), apply (one change when needed) or verify (exit 1 on mismatch)."""
    settings = _dns(fleet)
    cloud = CloudDns(settings.project, settings.zone)
    desired, sources = await stunner_addresses(fleet, from_fleet, kubeconfig, context)
    zone_name = await cloud.zone_dns_name()
    if not settings.record.endswith(zone_name):
        raise ConfigError(
            f"dns.record {settings.record!r} is not in zone {settings.zone} ({zone_name})",
            hint="use a fully qualified name ending with a dot",
        )
    record = await cloud.record(settings.record)
    live = geo_items(record) if record is not None else None
    changes = diff(desired, live) + (
        [f"~ ttl: {record.get('ttl')} -> {settings.ttl}"]
        if record is not None and record.get("ttl") != settings.ttl
        else []
    )
    change_id = None
    if action == "apply" and changes:
        items = [GeoItem(location=loc, rrdatas=addrs) for loc, addrs in sorted(desired.items())]
        change_id = await cloud.replace(record, geo_record(settings.record, settings.ttl, items))
    failed = action == "verify" and bool(changes)
    return DnsResult(
        action=action,
        project=settings.project,
        zone=settings.zone,
        record=settings.record,
        ttl=settings.ttl,
        desired=desired,
        sources=sources,
        live=live,
        changes=changes,
        in_sync=not changes or change_id is not None,
        change_id=change_id,
        exit_code=int(ExitCode.CHECKS_FAILED if failed else ExitCode.OK),
    )
