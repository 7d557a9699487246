"""From rendered objects to the lab's processes: what to run, and every way it differs.

`load_objects` reads a region's objects (render's, or a render output directory) and
what they say about pods and ports; `lab_processes` turns them into process specs with
the substitutions applied, and records every difference (substituted or not honoured)
on the launch, so `lab up -v` and `lab status -o yaml` can list them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bcastctl.fleet import Fleet
from bcastctl.lab import binaries, rendered, substitutions, turn
from bcastctl.lab.addresses import LabPlan, RegionShape
from bcastctl.lab.dnsd import CLUSTER_DOMAIN, CLUSTERSET_DOMAIN
from bcastctl.lab.gateway_tls import gateway_tls_files
from bcastctl.lab.launch import Launch
from bcastctl.lab.pods import ProcessSpec, objects_not_run, workload_not_honoured
from bcastctl.lab.rendered import NATS_APP, NODE_APP, RegionObjects
from bcastctl.node.settings import NodeSettings
from bcastctl.targets.lab_state import LabDifference


def load_objects(
    fleet: Fleet, rendered_dir: Path | None
) -> tuple[list[RegionObjects], list[RegionShape]]:
    """Every region's rendered objects (ConfigError naming the file when unusable)."""
    if rendered_dir is None:
        objects = rendered.from_fleet(fleet)
    else:
        objects = rendered.from_directory(fleet, rendered_dir)
    return objects, [substitutions.region_shape(region) for region in objects]


@dataclass(frozen=True)
class LabProcesses:
    nats: dict[str, ProcessSpec]  # region -> its NATS server
    nodes: list[tuple[str, ProcessSpec]]  # (pod name, spec), region by region


def lab_processes(launch: Launch) -> LabProcesses:
    """Process specs for every region (configs written to the state dir); differences noted."""
    plan = launch.plan
    services = substitutions.LabServices(
        dns=f"{plan.dns_host}:{plan.dns_port}",
        turn_urls=turn.turn_urls(plan) if launch.with_turn else [],
        port_offset=plan.port_offset,
        expected_nodes=sum(len(region.nodes) for region in plan.regions),
    )
    binary = binaries.nats_server_binary()
    namespace = launch.fleet.namespace
    nats: dict[str, ProcessSpec] = {}
    nodes: list[tuple[str, ProcessSpec]] = []
    differences: list[LabDifference] = []
    tls = launch.fleet.nats.gateway_tls
    tls_files = gateway_tls_files(plan, launch.fleet, launch.state_dir) if tls is not None else {}
    for objects, region in zip(launch.objects, plan.regions, strict=True):
        secrets = {tls.secret: tls_files[region.name]} if tls is not None else {}
        spec = substitutions.nats_process(
            objects, region, binary, launch.state_dir / "pods", namespace, secrets
        )
        nats[region.name] = spec
        differences += spec.differences
        for ordinal, node in enumerate(region.nodes):
            node_spec = substitutions.node_process(
                objects, region, ordinal, services, namespace, launch.state_dir / "pods"
            )
            nodes.append((node.name, node_spec))
            differences += node_spec.differences
        differences += _region_not_honoured(objects)
    if launch.turn_auth is not None:
        differences += turn.turn_differences(launch.turn_auth, plan)
    launch.differences = _unique(differences)
    whip_env = NodeSettings.whip_token.env
    launch.whip_token_ref = next(
        (spec.secret_env[whip_env] for _, spec in nodes if whip_env in spec.secret_env), ""
    )
    return LabProcesses(nats=nats, nodes=nodes)


def _region_not_honoured(objects: RegionObjects) -> list[LabDifference]:
    nats, node = objects.workload(NATS_APP), objects.workload(NODE_APP)
    found = [
        LabDifference(
            kind="substituted",
            region=objects.region,
            where=f"StatefulSet {nats.name} replicas",
            rendered=str(nats.replicas),
            lab="1",
            why="the lab runs one NATS server per region (its routes point at itself)",
        )
    ]
    found += workload_not_honoured(objects, nats) + workload_not_honoured(objects, node)
    run = {f"StatefulSet {nats.name}", f"StatefulSet {node.name}"}
    run |= {
        f"ConfigMap {v['configMap']['name']}"
        for v in nats.pod_spec.get("volumes") or []
        if "configMap" in v
    }
    return found + objects_not_run(objects, run)


def _unique(differences: list[LabDifference]) -> list[LabDifference]:
    """One line per (kind, region, where): a pod-dependent value is shown for the first pod."""
    seen: set[tuple[str, str | None, str]] = set()
    unique = []
    for difference in differences:
        key = (difference.kind, difference.region, difference.where)
        if key not in seen:
            seen.add(key)
            unique.append(difference)
    return unique


def lab_zone(
    plan: LabPlan, objects: list[RegionObjects], namespace: str, *, with_nodes: bool
) -> dict[str, list[str]]:
    """The lab DNS zone (name with a trailing dot -> A records), from the rendered Services.

    Each rendered Service answers with the lab addresses of the pods it selects (the NATS
    server's, or the nodes'); a headless one also names each pod; a Service with a
    ServiceExport also answers under the clusterset domain, as MCS would.
    """
    zone: dict[str, list[str]] = {}
    for region, region_objects in zip(plan.regions, objects, strict=True):
        nodes = [(node.name, node.address) for node in region.nodes] if with_nodes else []
        selected = [
            (region_objects.workload(NATS_APP), [(region.nats_pod, region.host)]),
            (region_objects.workload(NODE_APP), nodes),
        ]
        exported = {str(doc["metadata"]["name"]) for doc in region_objects.of_kind("ServiceExport")}
        for workload, pods in selected:
            for service in region_objects.services_selecting(workload):
                name = str(service["metadata"]["name"])
                addresses = [address for _, address in pods]
                zone[f"{name}.{namespace}.{CLUSTER_DOMAIN}."] = addresses
                if name in exported:
                    zone[f"{name}.{namespace}.{CLUSTERSET_DOMAIN}."] = addresses
                if (service.get("spec") or {}).get("clusterIP") == "None":
                    for pod, address in pods:
                        zone[f"{pod}.{name}.{namespace}.{CLUSTER_DOMAIN}."] = [address]
    return zone
