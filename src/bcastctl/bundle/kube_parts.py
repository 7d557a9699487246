"""What a bundle takes from a region's Kubernetes API: pods, events, container logs since
`--since`, and the live objects compared with what render produces for the region (a diff).

Logs come from the API's log endpoint with `timestamps=true` (RFC 3339 prefixes feed the
timeline), `sinceSeconds` and `limitBytes` (Kubernetes API reference, "read log of the
specified Pod"); at most MAX_PODS pods. Secret objects are read only to learn the values
to redact; they are never written.
"""

from __future__ import annotations

import base64
import difflib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import yaml

from bcastctl.adapters.kube import KubeClient
from bcastctl.bundle.parts import RegionParts
from bcastctl.bundle.timeline import event_entries, log_entries
from bcastctl.errors import BcastError
from bcastctl.fleet import Fleet
from bcastctl.render.manifests import region_manifests
from bcastctl.targets.capabilities import KubeAccess

MAX_PODS = 50
LOG_LIMIT_BYTES = 1024 * 1024
LIVE_ONLY = ("status", "managedFields", "resourceVersion", "uid", "creationTimestamp",
             "generation", "annotations")  # fmt: skip


async def secret_values(clients: KubeAccess, fleet: Fleet) -> list[str]:
    """The values of every Secret the fleet names, in every region we can read them."""
    values: list[str] = []
    names = fleet.secrets.names()
    for region in fleet.region_names:
        try:
            client = await clients.kube_client(region)
            for name in names:
                secret = await client.get("v1", "Secret", name, fleet.namespace)
                for encoded in (secret or {}).get("data", {}).values():
                    values.append(base64.b64decode(encoded).decode(errors="replace"))
        except BcastError:
            continue  # not readable here: the patterns still apply
    return values


def _project(live: Any, rendered: Any) -> Any:
    """The part of a live object that render sets (defaults the API added are left out)."""
    if isinstance(rendered, dict) and isinstance(live, dict):
        return {k: _project(live.get(k), v) for k, v in rendered.items() if k not in LIVE_ONLY}
    if isinstance(rendered, list) and isinstance(live, list) and len(live) == len(rendered):
        return [_project(a, b) for a, b in zip(live, rendered, strict=True)]
    return live


async def _diff(client: KubeClient, fleet: Fleet, region: str) -> str:
    lines: list[str] = []
    for doc in region_manifests(fleet, fleet.region(region)).resolved:
        meta = doc["metadata"]
        name = f"{doc['kind']}/{meta['name']}"
        live = await client.get(doc["apiVersion"], doc["kind"], meta["name"], meta.get("namespace"))
        if live is None:
            lines.append(f"--- {name}: rendered, not in the cluster\n")
            continue
        want = yaml.safe_dump(_project(doc, doc), sort_keys=True).splitlines(keepends=True)
        have = yaml.safe_dump(_project(live, doc), sort_keys=True).splitlines(keepends=True)
        lines += difflib.unified_diff(want, have, f"rendered/{name}", f"live/{name}")
    return "".join(lines) or "live objects match the rendered ones\n"


async def _logs(
    client: KubeClient, namespace: str, pods: Sequence[dict[str, Any]], since_s: float,
    since: datetime, parts: RegionParts,
) -> None:  # fmt: skip
    for pod in pods[:MAX_PODS]:
        pod_name = pod["metadata"]["name"]
        for container in pod.get("spec", {}).get("containers", []):
            path = f"/api/v1/namespaces/{namespace}/pods/{pod_name}/log"
            query = [("container", container["name"]), ("timestamps", "true"),
                     ("sinceSeconds", str(max(1, int(since_s)))),
                     ("limitBytes", str(LOG_LIMIT_BYTES))]  # fmt: skip
            status, body = await client.raw("GET", path, query=query)
            if status != 200:
                parts.unreachable[f"logs {pod_name}/{container['name']}"] = f"HTTP {status}"
                continue
            text = body.decode(errors="replace")
            parts.add(f"logs/{pod_name}/{container['name']}.log", text)
            parts.timeline += log_entries(
                parts.name, f"{pod_name}/{container['name']}", text, since
            )


async def collect_kube(
    clients: KubeAccess, fleet: Fleet, parts: RegionParts, since_s: float, since: datetime
) -> None:
    """Pods, events, logs and the live-vs-rendered diff of one region; gaps recorded."""
    namespace = fleet.namespace
    try:
        client = await clients.kube_client(parts.name)
        pods = await client.list_objects("v1", "Pod", namespace)
        events = await client.list_objects("v1", "Event", namespace)
    except BcastError as e:
        parts.unreachable["kubernetes api"] = e.message
        return
    parts.add("pods.json", json.dumps(pods, indent=1, sort_keys=True, default=str))
    parts.add("events.json", json.dumps(events, indent=1, sort_keys=True, default=str))
    parts.timeline += event_entries(parts.name, events)
    for step, run in (
        ("logs", _logs(client, namespace, pods, since_s, since, parts)),
        ("diff", _diff_into(client, fleet, parts)),
    ):
        try:
            await run
        except BcastError as e:
            parts.unreachable[step] = e.message


async def _diff_into(client: KubeClient, fleet: Fleet, parts: RegionParts) -> None:
    parts.add("diff.txt", await _diff(client, fleet, parts.name))
