"""Several fake clusters (shimmed kmock instances) behind one kubeconfig.

The servers run on their own event loop in a background thread, so that blocking
kubernetes-client calls (ours run in threads; tests may call synchronously) never block
them. One kubeconfig holds a context per cluster (`kmock-<name>`); an extra context can
point at a port nobody listens on (an unreachable cluster). The set also plays the GKE
MCS controller: a ServiceExport in one cluster gives a ServiceImport in every cluster.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import socket
import threading
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import kmock
import yaml

from fakes.kube_api import CRDS, ShimmedKubernetes, Workloads

T = TypeVar("T")


class ClusterSet:
    def __init__(
        self,
        names: list[str],
        *,
        crds: dict[str, set[str]] | None = None,
        no_imports: set[str] | None = None,
        backdate_s: float = 0.0,
        versions: dict[str, str] | None = None,
    ) -> None:
        self.backdate_s = backdate_s
        self.versions = versions or {}
        self.names = names
        self._crds = crds or {}
        self.no_imports = set(no_imports or ())  # clusters whose MCS controller is broken
        self.clusters: dict[str, ShimmedKubernetes] = {}
        self.urls: dict[str, str] = {}
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._stack: list[Any] = []
        self._dead_sockets: list[socket.socket] = []

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        self.run(self._start())

    async def _start(self) -> None:
        for name in self.names:
            cluster = ShimmedKubernetes(
                cluster_name=name,
                crds=set(self._crds.get(name, set(CRDS))),
                backdate_s=self.backdate_s,
                git_version=self.versions.get(name, "v1.31.2"),
            )
            await cluster.__aenter__()
            self._stack.append(cluster)
            server = kmock.Server(cluster)
            await server.__aenter__()
            self._stack.append(server)
            cluster.observers.append(self._mcs)
            self.clusters[name] = cluster
            self.urls[name] = str(server.url).rstrip("/")

    def stop(self) -> None:
        try:
            self.run(self._stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
            self._loop.close()
            for sock in self._dead_sockets:
                sock.close()

    async def _stop(self) -> None:
        for item in reversed(self._stack):  # servers before their handlers, last first
            await item.__aexit__(None, None, None)
        self._stack.clear()

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the servers' loop thread (safe access to cluster state)."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def runner() -> None:
            try:
                future.set_result(fn())
            except BaseException as e:
                future.set_exception(e)

        self._loop.call_soon_threadsafe(runner)
        return future.result(10)

    # --- kubeconfig -------------------------------------------------------------------

    def unreachable_url(self) -> str:
        """A loopback port that refuses connections (bound, never listening)."""
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self._dead_sockets.append(sock)
        return f"http://127.0.0.1:{sock.getsockname()[1]}"

    def write_kubeconfig(self, path: Path, extra: dict[str, str] | None = None) -> Path:
        servers = dict(self.urls) | dict(extra or {})
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "current-context": f"kmock-{self.names[0]}",
            "clusters": [{"name": n, "cluster": {"server": u}} for n, u in servers.items()],
            "users": [{"name": "tester", "user": {"token": "fake-token"}}],
            "contexts": [
                {"name": f"kmock-{n}", "context": {"cluster": n, "user": "tester"}} for n in servers
            ],
        }
        path.write_text(yaml.safe_dump(config), encoding="utf-8")
        return path

    # --- inspection and knobs ----------------------------------------------------------

    def live(self, cluster: str, plural: str, namespace: str | None, name: str) -> Any:
        return self.call(lambda: self.clusters[cluster].live(plural, namespace, name))

    def writes(self, cluster: str, *, include_dry_run: bool = True) -> list[str]:
        return self.call(lambda: self.clusters[cluster].writes(include_dry_run=include_dry_run))

    def write_window(self, cluster: str) -> tuple[float, float]:
        """(first, last) arrival time of the persisted writes to a cluster."""
        times = self.call(lambda: self.clusters[cluster].write_times())
        return min(times), max(times)

    def request_count(self, cluster: str) -> int:
        return self.call(lambda: len(self.clusters[cluster].requests_log()))

    def merge_patch(
        self,
        cluster: str,
        api_version: str,
        plural: str,
        namespace: str,
        name: str,
        patch: dict[str, Any],
        field_manager: str,
    ) -> Any:
        """Someone else (kubectl edit) changes an object over HTTP."""
        base = "/api/" if "/" not in api_version else "/apis/"
        url = (
            f"{self.urls[cluster]}{base}{api_version}/namespaces/{namespace}/{plural}/{name}"
            f"?fieldManager={field_manager}"
        )
        request = urllib.request.Request(
            url,
            data=json.dumps(patch).encode(),
            method="PATCH",
            headers={"Content-Type": "application/merge-patch+json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.load(response)

    def delete(
        self, cluster: str, api_version: str, plural: str, namespace: str, name: str
    ) -> None:
        """Someone else deletes an object over HTTP."""
        base = "/api/" if "/" not in api_version else "/apis/"
        url = f"{self.urls[cluster]}{base}{api_version}/namespaces/{namespace}/{plural}/{name}"
        with urllib.request.urlopen(urllib.request.Request(url, method="DELETE"), timeout=10):
            pass

    def set_workloads(self, cluster: str, workloads: Workloads) -> None:
        def change() -> None:
            self.clusters[cluster].workloads = workloads
            self.clusters[cluster].refresh()

        self.call(change)

    def seed(self, cluster: str, plural: str, namespace: str | None, obj: dict[str, Any]) -> None:
        """Put an object in place as if someone else had created it (not via HTTP)."""
        group_version = obj["apiVersion"]
        group, _, version = group_version.rpartition("/")
        resource = kmock.resource(group=group, version=version, plural=plural)
        key = (resource, namespace, obj["metadata"]["name"])

        def put() -> None:
            self.clusters[cluster]._save(key, dict(obj))

        self.call(put)

    def _mcs(self, cluster: ShimmedKubernetes, plural: str, obj: dict[str, Any] | None) -> None:
        if plural in ("serviceexports", "namespaces") and obj is not None:
            for other in self.clusters.values():
                self._import_exports(other)

    def _import_exports(self, cluster: ShimmedKubernetes) -> None:
        if "net.gke.io/v1/serviceimports" not in cluster.crds:
            return
        if cluster.cluster_name in self.no_imports:
            return
        imports = kmock.resource("net.gke.io", "v1", "serviceimports")
        exported = {
            (key[1], key[2])
            for source in self.clusters.values()
            for key, obj in source.objects.items()
            if key[0].plural == "serviceexports" and not obj.deleted
        }
        for namespace, name in sorted(exported):
            key = (imports, namespace, name)
            if cluster._current(key) is None and cluster.live("namespaces", None, namespace):
                cluster._save(
                    key,
                    {
                        "apiVersion": "net.gke.io/v1",
                        "kind": "ServiceImport",
                        "metadata": {"name": name, "namespace": namespace},
                        "spec": {"type": "ClusterSetIP", "ips": ["10.96.0.42"]},
                    },
                )


@contextmanager
def cluster_set(names: list[str], **kwargs: Any) -> Iterator[ClusterSet]:
    clusters = ClusterSet(names, **kwargs)
    clusters.start()
    try:
        yield clusters
    finally:
        clusters.stop()


def applied_kinds(writes: list[str]) -> list[str]:
    """The resource plural of every write, in order ("PATCH /apis/apps/v1/.../statefulsets/x")."""
    return [write.split()[1].strip("/").split("/")[-2] for write in writes]
