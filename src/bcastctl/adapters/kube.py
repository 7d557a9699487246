"""The one wrapper over the kubernetes client.

Everything bcastctl says to a Kubernetes API goes through `KubeClient`: a client per
cluster built from a kubeconfig context (or a GKE endpoint, CA and token), raw JSON
requests run in threads under deadlines with bounded retries, discovery-based kind ->
resource mapping, server-side apply with field manager `bcastctl`, and the pod proxy.
SDK and transport errors become BcastErrors (`raise ... from e`). Every request is
counted (`KubeClient.calls`) so bench/ can report API calls per region.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, TypedDict
from urllib.parse import quote

from bcastctl.adapters.kube_errors import ApplyConflict, KubeApiError, decode, unreachable
from bcastctl.errors import ConfigError, UnreachableError
from bcastctl.model import Manifest as Manifest

if TYPE_CHECKING:
    from bcastctl.fleet import ClusterRef

log = logging.getLogger("bcastctl.kube")

FIELD_MANAGER: Final = "bcastctl"
WRITE_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
APPLY_CONTENT_TYPE: Final = "application/apply-patch+yaml"
MERGE_CONTENT_TYPE: Final = "application/merge-patch+json"
_TRANSIENT_STATUS: Final = frozenset({429, 500, 502, 503, 504})
# Through the pod proxy a 5xx is the pod's own answer, or the API server saying that it
# could not dial the pod ("error trying to reach service", 503: k8s.io/apimachinery
# pkg/util/proxy/transport.go); the caller decides what a pod that does not answer means.
# Only the API server's own throttling (429) is retried there.
_PROXY_TRANSIENT_STATUS: Final = frozenset({429})


# Blocking SDK calls run here, not in asyncio's default pool (min(32, cores + 4) threads:
# 6 on 2 cores), so that a dozen regions' requests are in flight at once.
_THREADS: Final = 48
_EXECUTOR: Final = concurrent.futures.ThreadPoolExecutor(
    max_workers=_THREADS, thread_name_prefix="bcastctl-kube"
)


class ServerVersion(TypedDict):
    major: str
    minor: str
    gitVersion: str


@dataclass(frozen=True)
class ApiResource:
    """One served resource: how a kind maps to a URL."""

    api_version: str
    kind: str
    plural: str
    namespaced: bool


def api_base(api_version: str) -> str:
    return f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"


def object_path(
    resource: ApiResource,
    namespace: str | None = None,
    name: str | None = None,
    subresource: str | None = None,
) -> str:
    path = api_base(resource.api_version)
    if resource.namespaced and namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{resource.plural}"
    if name is not None:
        path += f"/{quote(name, safe='')}"
    if subresource is not None:
        path += f"/{subresource}"
    return path


def _api_client(configuration: Any) -> Any:
    """An ApiClient whose urllib3 pool never retries (`KubeClient.raw` is the one retry
    loop) and keeps a connection for every thread that may call at once.

    The SDK builds its urllib3 PoolManager when the ApiClient is made, from
    `configuration.retries` and `connection_pool_maxsize` (kubernetes/client/rest.py:
    `pool_args`), so both must be in place before then. Left as they are, urllib3 retries
    each request 3 more times, logging "Retrying (Retry(total=...))", and, with more
    requests in flight than 5 x cores (its default pool), logs "Connection pool is full,
    discarding connection": warnings on the user's stderr either way.
    """
    from kubernetes import client

    configuration.retries = False
    configuration.connection_pool_maxsize = _THREADS
    return client.ApiClient(configuration)


class KubeClient:
    """A client of one cluster. Async methods; blocking SDK calls run in threads."""

    def __init__(
        self,
        api_client: Any,
        *,
        name: str,
        timeout_s: float = 10.0,
        attempts: int = 3,
        retry_delay_s: float = 0.2,
    ) -> None:
        self._api = api_client
        self.name = name
        self.timeout_s = timeout_s
        self.attempts = attempts
        self.retry_delay_s = retry_delay_s  # before attempt n+1: n times this
        self.calls: Counter[str] = Counter()
        self._discovery: dict[str, dict[str, ApiResource] | None] = {}
        self.owned_files: list[str] = []  # e.g. a GKE CA file, removed on close()

    @property
    def host(self) -> str:
        return str(self._api.configuration.host)

    @classmethod
    def from_kubeconfig(
        cls,
        *,
        name: str,
        kubeconfig: str | None = None,
        context: str | None = None,
        timeout_s: float = 10.0,
    ) -> KubeClient:
        from kubernetes import client, config

        where = f"context {context!r}" if context else "the current context"
        configuration = client.Configuration()
        try:
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig,
                context=context,
                client_configuration=configuration,
                persist_config=False,
            )
        except (config.ConfigException, OSError, ValueError, TypeError) as e:
            raise ConfigError(
                f"{name}: cannot load {where} from {kubeconfig or '~/.kube/config'}: {e}",
                hint="check --kubeconfig/--context or the region's cluster.context in the fleet",
            ) from e
        return cls(_api_client(configuration), name=name, timeout_s=timeout_s)

    @classmethod
    def from_endpoint(
        cls,
        *,
        name: str,
        host: str,
        ca_file: str | None,
        token: str | None,
        timeout_s: float = 10.0,
    ) -> KubeClient:
        """A client from an endpoint, CA and bearer token (GKE, without gcloud)."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = host
        if ca_file:
            configuration.ssl_ca_cert = ca_file
        if token:
            configuration.api_key = {"BearerToken": token}
            configuration.api_key_prefix = {"BearerToken": "Bearer"}
        return cls(_api_client(configuration), name=name, timeout_s=timeout_s)

    def close(self) -> None:
        import contextlib
        import os

        self._api.close()
        for path in self.owned_files:
            with contextlib.suppress(OSError):
                os.unlink(path)
        self.owned_files.clear()

    # --- raw requests -------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        query: list[tuple[str, str]],
        body: Any,
        content_type: str | None,
        extra_headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        headers = {"Accept": "application/json", **(extra_headers or {})}
        if content_type:
            headers["Content-Type"] = content_type
        serialized = self._api.param_serialize(
            method,
            path,
            query_params=query,
            header_params=headers,
            body=body,
            auth_settings=["BearerToken"],
        )
        response = self._api.call_api(*serialized, _request_timeout=self.timeout_s)
        data = response.read()
        return int(response.status), bytes(data or b"")

    async def raw(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        headers: dict[str, str] | None = None,
        retry_statuses: frozenset[int] = _TRANSIENT_STATUS,
    ) -> tuple[int, bytes]:
        """One request with retries on transient failures: (HTTP status, body).

        Connection errors and timeouts are retried, and answers with a status in
        `retry_statuses`; the last answer is returned.
        """
        import urllib3

        status, data = 0, b""
        for attempt in range(1, self.attempts + 1):
            self.calls[method] += 1
            try:
                call = functools.partial(
                    self._send, method, path, query or [], body, content_type, headers
                )
                status, data = await asyncio.wait_for(
                    asyncio.get_running_loop().run_in_executor(_EXECUTOR, call),
                    self.timeout_s + 1,
                )
            except (urllib3.exceptions.HTTPError, OSError, TimeoutError) as e:
                if attempt == self.attempts:
                    raise self._unreachable(e) from e
                log.debug("%s: %s %s failed (%s), retrying", self.name, method, path, e)
                await asyncio.sleep(self.retry_delay_s * attempt)
                continue
            if status in retry_statuses and attempt < self.attempts:
                log.debug("%s: %s %s answered %d, retrying", self.name, method, path, status)
                await asyncio.sleep(self.retry_delay_s * attempt)
                continue
            break
        return status, data

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        missing_ok: bool = False,
    ) -> Any:
        """One API request; the decoded JSON body (None for 404 when missing_ok)."""
        status, data = await self.raw(
            method, path, query=query, body=body, content_type=content_type
        )
        return self._decode(method, path, status, data, missing_ok)

    def _unreachable(self, error: BaseException) -> UnreachableError:
        return unreachable(self.name, self.host, self.timeout_s, error)

    def _decode(self, method: str, path: str, status: int, data: bytes, missing_ok: bool) -> Any:
        return decode(self.name, method, path, status, data, missing_ok)

    # --- discovery -----------------------------------------------------------------

    async def version(self) -> ServerVersion:
        data = await self.request("GET", "/version")
        return ServerVersion(
            major=str(data.get("major", "")),
            minor=str(data.get("minor", "")),
            gitVersion=str(data.get("gitVersion", "")),
        )

    async def resources(self, api_version: str) -> dict[str, ApiResource] | None:
        """The kinds a group-version serves (None if the API does not serve it). Cached."""
        if api_version not in self._discovery:
            data = await self.request("GET", api_base(api_version), missing_ok=True)
            served: dict[str, ApiResource] | None = None
            if data is not None:
                served = {
                    item["kind"]: ApiResource(
                        api_version, item["kind"], item["name"], bool(item.get("namespaced"))
                    )
                    for item in data.get("resources", [])
                    if "/" not in item.get("name", "/")
                }
            self._discovery[api_version] = served
        return self._discovery[api_version]

    async def resource(self, api_version: str, kind: str) -> ApiResource:
        served = await self.resources(api_version) or {}
        if kind not in served:
            raise KubeApiError(
                f"{self.name}: the API serves no {kind} in {api_version}",
                status=404,
                hint="install the CRD that defines it",
            )
        return served[kind]

    # --- objects -------------------------------------------------------------------

    async def get(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> Manifest | None:
        resource = await self.resource(api_version, kind)
        result = await self.request("GET", object_path(resource, namespace, name), missing_ok=True)
        return None if result is None else dict(result)

    async def list_objects(
        self,
        api_version: str,
        kind: str,
        namespace: str | None = None,
        label_selector: str | None = None,
    ) -> list[Manifest]:
        resource = await self.resource(api_version, kind)
        query = [("labelSelector", label_selector)] if label_selector else []
        data = await self.request("GET", object_path(resource, namespace), query=query)
        return [dict(item) for item in data.get("items", [])]

    async def apply(
        self,
        manifest: Manifest,
        *,
        force: bool = False,
        dry_run: bool = False,
        field_manager: str = FIELD_MANAGER,
    ) -> Manifest:
        """Server-side apply of one object (created if missing)."""
        resource = await self.resource(manifest["apiVersion"], manifest["kind"])
        meta = manifest["metadata"]
        query = [("fieldManager", field_manager)]
        if force:
            query.append(("force", "true"))
        if dry_run:
            query.append(("dryRun", "All"))
        path = object_path(resource, meta.get("namespace"), meta["name"])
        result = await self.request(
            "PATCH", path, query=query, body=manifest, content_type=APPLY_CONTENT_TYPE
        )
        return dict(result)

    async def merge_patch(
        self,
        api_version: str,
        kind: str,
        name: str,
        namespace: str | None,
        patch: Manifest,
        *,
        field_manager: str = FIELD_MANAGER,
    ) -> Manifest:
        resource = await self.resource(api_version, kind)
        result = await self.request(
            "PATCH",
            object_path(resource, namespace, name),
            query=[("fieldManager", field_manager)],
            body=patch,
            content_type=MERGE_CONTENT_TYPE,
        )
        return dict(result)

    async def delete(
        self, api_version: str, kind: str, name: str, namespace: str | None = None
    ) -> bool:
        """Delete one object; False if it was already gone."""
        resource = await self.resource(api_version, kind)
        path = object_path(resource, namespace, name)
        result = await self.request("DELETE", path, missing_ok=True)
        return result is not None

    async def proxy(
        self,
        method: str,
        namespace: str,
        pod: str,
        port: int,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, bytes]:
        """A request to a pod's HTTP port through the API server's pod proxy.

        A pod that refuses or fails is an answer (503 when the API server cannot dial it),
        returned at once: retried are only the failures to reach the API server itself.
        """
        target = f"{quote(pod, safe='')}:{port}"
        url = f"/api/v1/namespaces/{quote(namespace, safe='')}/pods/{target}/proxy/"
        return await self.raw(
            method,
            url + path.lstrip("/"),
            query=query,
            body=body,
            headers=headers,
            retry_statuses=_PROXY_TRANSIENT_STATUS,
        )


async def connect(
    region: str,
    cluster: ClusterRef,
    *,
    kubeconfig: str | None = None,
    context: str | None = None,
    timeout_s: float = 10.0,
) -> KubeClient:
    """A client for a region's cluster; --kubeconfig/--context override the fleet.

    GKE clusters (cluster.gke) are reached through adapters.gke: endpoint and CA from
    the GKE API, a Google access token, no gcloud binary.
    """
    if cluster.gke is not None and context is None:
        from bcastctl.adapters import gke

        return await gke.kube_client(region, cluster.gke, timeout_s=timeout_s)
    use_context = context or cluster.context
    label = f"{region} (context {use_context})" if use_context else region
    return KubeClient.from_kubeconfig(
        name=label,
        kubeconfig=kubeconfig or cluster.kubeconfig,
        context=use_context,
        timeout_s=timeout_s,
    )


__all__ = ["ApiResource", "ApplyConflict", "KubeApiError", "KubeClient", "Manifest", "connect"]
