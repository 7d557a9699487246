"""Local HTTP fakes of the GKE (container.googleapis.com v1) and Cloud DNS (dns/v1) REST APIs.

One aiohttp server on loopback (OS-picked port) on its own loop thread, answering the
paths the Google client libraries call with the JSON shapes the real APIs use:

- GKE: GET /v1/projects/P/locations/L/clusters (L may be "-") and .../clusters/NAME.
- Cloud DNS: GET /dns/v1/projects/P/managedZones/Z, GET .../Z/rrsets?name=&type=,
  POST .../Z/changes (deletions must match the live record set exactly: 412 otherwise;
  an addition that exists: 409; malformed: 400). Errors use Google's error JSON and the
  server keeps serving.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import itertools
import json
import threading
from typing import Any

from aiohttp import web

Json = dict[str, Any]
CA_PEM = b"-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


def _error(status: int, message: str, reason: str) -> web.Response:
    body = {
        "error": {
            "code": status,
            "message": message,
            "errors": [{"reason": reason, "message": message}],
        }
    }
    return web.json_response(body, status=status)


class FakeGcp:
    def __init__(self) -> None:
        self.gke_clusters: dict[str, list[Json]] = {}  # project -> clusters
        self.zones: dict[tuple[str, str], Json] = {}  # (project, zone) -> managedZone
        self.rrsets: dict[tuple[str, str], list[Json]] = {}
        self.requests: list[str] = []
        self._ids = itertools.count(1)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # --- data ----------------------------------------------------------------------------

    def add_cluster(
        self,
        project: str,
        location: str,
        name: str,
        endpoint: str,
        version: str = "1.31.2-gke.1000",
        nodes: int = 3,
    ) -> None:
        self.gke_clusters.setdefault(project, []).append(
            {
                "name": name,
                "location": location,
                "zone": location,
                "endpoint": endpoint,
                "status": "RUNNING",
                "currentMasterVersion": version,
                "currentNodeCount": nodes,
                "masterAuth": {"clusterCaCertificate": base64.b64encode(CA_PEM).decode()},
                "selfLink": f"https://container.googleapis.com/v1/projects/{project}/locations/"
                f"{location}/clusters/{name}",
            }
        )

    def add_zone(self, project: str, zone: str, dns_name: str) -> None:
        self.zones[(project, zone)] = {
            "kind": "dns#managedZone",
            "name": zone,
            "dnsName": dns_name,
            "id": "4242",
            "creationTime": "2024-01-01T00:00:00.000Z",
            "description": "",
            "nameServers": ["ns-cloud-a1.googledomains.com."],
        }
        self.rrsets[(project, zone)] = []

    def record(self, project: str, zone: str, name: str) -> Json | None:
        found = [r for r in self.rrsets[(project, zone)] if r["name"] == name]
        return copy.deepcopy(found[0]) if found else None

    def set_record(self, project: str, zone: str, record: Json) -> None:
        def change() -> None:
            sets = [r for r in self.rrsets[(project, zone)] if r["name"] != record["name"]]
            self.rrsets[(project, zone)] = [*sets, record]

        self._loop.call_soon_threadsafe(change)
        asyncio.run_coroutine_threadsafe(asyncio.sleep(0), self._loop).result(5)

    # --- GKE -----------------------------------------------------------------------------

    async def _clusters(self, request: web.Request) -> web.Response:
        project, location = request.match_info["project"], request.match_info["location"]
        if project not in self.gke_clusters:
            return _error(404, f"project {project} not found", "notFound")
        clusters = [c for c in self.gke_clusters[project] if location in ("-", c["location"])]
        return web.json_response({"clusters": clusters})

    async def _cluster(self, request: web.Request) -> web.Response:
        info = request.match_info
        for cluster in self.gke_clusters.get(info["project"], []):
            if cluster["name"] == info["name"] and cluster["location"] == info["location"]:
                return web.json_response(cluster)
        return _error(404, f"cluster {info['name']} not found", "notFound")

    # --- Cloud DNS ---------------------------------------------------------------------

    def _zone_key(self, request: web.Request) -> tuple[str, str]:
        return request.match_info["project"], request.match_info["zone"]

    async def _zone(self, request: web.Request) -> web.Response:
        zone = self.zones.get(self._zone_key(request))
        if zone is None:
            return _error(
                404,
                "The 'parameters.managedZone' resource named "
                f"'{request.match_info['zone']}' does not exist.",
                "notFound",
            )
        return web.json_response(zone)

    async def _list_rrsets(self, request: web.Request) -> web.Response:
        key = self._zone_key(request)
        if key not in self.zones:
            return _error(404, "zone not found", "notFound")
        name, rtype = request.query.get("name"), request.query.get("type")
        found = [
            r
            for r in self.rrsets[key]
            if (not name or r["name"] == name) and (not rtype or r["type"] == rtype)
        ]
        return web.json_response({"kind": "dns#resourceRecordSetsListResponse", "rrsets": found})

    def _invalid(self, zone: Json, rrset: Any) -> str | None:
        if not isinstance(rrset, dict) or not isinstance(rrset.get("name"), str):
            return "record set needs a name"
        if not rrset["name"].endswith(zone["dnsName"]):
            return f"{rrset['name']} is not in zone {zone['dnsName']}"
        if rrset.get("type") not in ("A", "AAAA", "CNAME", "TXT") or not isinstance(
            rrset.get("ttl"), int
        ):
            return "record set needs a type and an integer ttl"
        items = rrset.get("routingPolicy", {}).get("geo", {}).get("items")
        if items is None and not rrset.get("rrdatas"):
            return "record set needs rrdatas or a routingPolicy"
        for item in items or []:
            if not item.get("location") or not item.get("rrdatas"):
                return "every geo item needs a location and rrdatas"
        return None

    async def _change(self, request: web.Request) -> web.Response:
        key = self._zone_key(request)
        if key not in self.zones:
            return _error(404, "zone not found", "notFound")
        try:
            change = await request.json()
        except ValueError:
            return _error(400, "Invalid JSON payload received.", "parseError")
        additions, deletions = change.get("additions", []), change.get("deletions", [])
        for rrset in additions:
            if problem := self._invalid(self.zones[key], rrset):
                return _error(
                    400, f"Invalid value for 'entity.change.additions': {problem}", "invalid"
                )
        live = self.rrsets[key]
        for index, rrset in enumerate(deletions):
            if rrset not in [{k: v for k, v in r.items()} for r in live]:
                return _error(
                    412,
                    f"Precondition not met for 'entity.change.deletions[{index}]'",
                    "conditionNotMet",
                )
        remaining = [r for r in live if r not in deletions]
        for rrset in additions:
            if any(r["name"] == rrset["name"] and r["type"] == rrset["type"] for r in remaining):
                return _error(
                    409,
                    f"The resource 'entity.change.additions[{rrset['name']}]' already exists",
                    "alreadyExists",
                )
        self.rrsets[key] = remaining + [{"kind": "dns#resourceRecordSet", **r} for r in additions]
        body = {
            "kind": "dns#change",
            "id": str(next(self._ids)),
            "status": "done",
            "startTime": "2024-01-01T00:00:00.000Z",
            "additions": additions,
            "deletions": deletions,
        }
        return web.json_response(body)

    # --- server --------------------------------------------------------------------------

    @web.middleware
    async def _log(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append(f"{request.method} {request.path}")
        response: web.StreamResponse = await handler(request)
        return response

    def _app(self) -> web.Application:
        app = web.Application(middlewares=[self._log])
        gke = "/v1/projects/{project}/locations/{location}/clusters"
        dns = "/dns/v1/projects/{project}/managedZones/{zone}"
        app.router.add_get(gke, self._clusters)
        app.router.add_get(gke + "/{name}", self._cluster)
        app.router.add_get(dns, self._zone)
        app.router.add_get(dns + "/rrsets", self._list_rrsets)
        app.router.add_post(dns + "/changes", self._change)
        return app

    async def _start(self) -> None:
        self._runner = web.AppRunner(self._app())
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}"

    def start(self) -> FakeGcp:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def post_raw(self, path: str, body: bytes) -> tuple[int, Json]:
        import urllib.error
        import urllib.request

        request = urllib.request.Request(
            self.url + path, data=body, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return response.status, json.load(response)
        except urllib.error.HTTPError as e:
            return e.code, json.load(e)
