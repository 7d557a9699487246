"""Cloud DNS through google-cloud-dns: read and change a geolocation-routed record set.

The library's ResourceRecordSet has no routing policy, so record sets are read and
changed as raw JSON through the library's own authenticated connection
(`client._connection.api_request`), the same requests the library makes. The API
endpoint is configurable (`BCASTCTL_CLOUDDNS_ENDPOINT`, e.g. a local fake).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, Final, TypedDict, TypeVar

from bcastctl.errors import ConfigError, OperationFailed, UnreachableError

ENDPOINT_ENV: Final = "BCASTCTL_CLOUDDNS_ENDPOINT"
T = TypeVar("T")


class GeoItem(TypedDict):
    location: str
    rrdatas: list[str]


class RecordSet(TypedDict, total=False):
    kind: str
    name: str
    type: str
    ttl: int
    rrdatas: list[str]
    routingPolicy: dict[str, Any]


def geo_record(name: str, ttl: int, items: list[GeoItem]) -> RecordSet:
    return {
        "kind": "dns#resourceRecordSet",
        "name": name,
        "type": "A",
        "ttl": ttl,
        "routingPolicy": {"geo": {"items": items, "enableFencing": False}},
    }


def geo_items(record: RecordSet | None) -> dict[str, list[str]]:
    """location -> addresses of a geo-routed record (empty for a plain one)."""
    policy = (record or {}).get("routingPolicy", {}).get("geo", {})
    return {str(i["location"]): sorted(i.get("rrdatas", [])) for i in policy.get("items", [])}


class CloudDns:
    """One managed zone of one project."""

    def __init__(
        self, project: str, zone: str, *, endpoint: str | None = None, timeout_s: float = 20.0
    ) -> None:
        self.project = project
        self.zone = zone
        self.timeout_s = timeout_s
        self._endpoint = endpoint or os.environ.get(ENDPOINT_ENV)
        self._client: Any = None

    def _connection(self) -> Any:
        if self._client is None:
            from google.cloud import dns  # type: ignore[attr-defined]

            from bcastctl.adapters.gke import credentials

            options = {"api_endpoint": self._endpoint} if self._endpoint else None
            self._client = dns.Client(
                project=self.project, credentials=credentials(), client_options=options
            )
        return self._client._connection

    @property
    def _zone_path(self) -> str:
        return f"/projects/{self.project}/managedZones/{self.zone}"

    async def _call(self, what: str, fn: Callable[[], T]) -> T:
        from google.api_core import exceptions

        try:
            return await asyncio.wait_for(asyncio.to_thread(fn), self.timeout_s)
        except TimeoutError as e:
            raise UnreachableError(
                f"Cloud DNS: {what}: no answer within {self.timeout_s:g} s"
            ) from e
        except exceptions.NotFound as e:
            raise ConfigError(
                f"Cloud DNS: {what}: not found (project {self.project}, zone {self.zone})",
                hint="check dns.project and dns.zone in the fleet file",
            ) from e
        except (exceptions.Forbidden, exceptions.Unauthenticated) as e:
            raise ConfigError(
                f"Cloud DNS: {what}: permission denied ({e.message})",
                hint="the credentials need the dns.admin role",
            ) from e
        except exceptions.GoogleAPICallError as e:
            raise OperationFailed(f"Cloud DNS: {what}: {e.message}") from e
        except (OSError, ValueError) as e:
            raise UnreachableError(f"Cloud DNS: {what}: {type(e).__name__}: {e}") from e

    async def zone_dns_name(self) -> str:
        def call() -> str:
            return str(
                self._connection().api_request(method="GET", path=self._zone_path)["dnsName"]
            )

        return await self._call(f"zone {self.zone}", call)

    async def record(self, name: str, record_type: str = "A") -> RecordSet | None:
        def call() -> RecordSet | None:
            answer = self._connection().api_request(
                method="GET",
                path=f"{self._zone_path}/rrsets",
                query_params={"name": name, "type": record_type},
            )
            found = [r for r in answer.get("rrsets", []) if r.get("name") == name]
            return RecordSet(**found[0]) if found else None  # type: ignore[typeddict-item]

        return await self._call(f"record {name}", call)

    async def replace(self, old: RecordSet | None, new: RecordSet) -> str:
        """One change: delete `old` (exactly as it is live) and add `new`; the change id."""

        def call() -> str:
            change: dict[str, Any] = {"kind": "dns#change", "additions": [new]}
            if old is not None:
                change["deletions"] = [old]
            answer = self._connection().api_request(
                method="POST", path=f"{self._zone_path}/changes", data=change
            )
            return str(answer.get("id", ""))

        return await self._call(f"change of {new['name']}", call)
