"""A kmock KubernetesEmulator with the gaps FINDINGS.md lists filled in.

kmock serves the HTTP, parses requests, answers discovery (/version, /api, /apis/...),
keeps the request log (`list(cluster)`) and the object store with history
(`cluster.objects[resource, namespace, name]`). This subclass takes over object requests
to add what kmock 0.8 lacks: `/api/v1/namespaces` paths, PUT, resourceVersion / uid /
creationTimestamp / generation, server-side apply that creates objects, removes fields
a manager stopped applying and reports conflicts with other managers, dry runs, label
selectors, list kind/apiVersion, namespace existence and cascade delete, watch (from a
resourceVersion, ending at timeoutSeconds), and the pod proxy (to real loopback HTTP
servers). A small "controller" sets StatefulSet, Gateway and ServiceExport status and
creates a StatefulSet's pods, following `workloads`, the policy a test flips to make
workloads ready or not. Tests can also inject failures (`faults`), slow answers
(`delays`) and make new objects look old (`backdate_s`).
"""

from __future__ import annotations

import asyncio
import copy
import gzip
import importlib.resources
import itertools
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import k8s, rendering

from fakes.kube_controllers import (
    Workloads,
    gateway_status,
    httproute_status,
    partition,
    pod_manifest,
    statefulset_status,
)
from fakes.kube_merge import (
    SYSTEM_META,
    Path,
    leaves,
    lookup,
    merge,
    parse_kube_path,
    remove,
    selector_matches,
)

Obj = dict[str, Any]
Key = tuple[Any, str | None, str]

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CRDS: dict[str, dict[str, Any]] = {
    "gateway.networking.k8s.io/v1/gateways": {"kind": "Gateway", "namespaced": True},
    "gateway.networking.k8s.io/v1/gatewayclasses": {"kind": "GatewayClass", "namespaced": False},
    "stunner.l7mp.io/v1/gatewayconfigs": {"kind": "GatewayConfig", "namespaced": True},
    "stunner.l7mp.io/v1/udproutes": {"kind": "UDPRoute", "namespaced": True},
    "net.gke.io/v1/serviceexports": {"kind": "ServiceExport", "namespaced": True},
    "net.gke.io/v1/serviceimports": {"kind": "ServiceImport", "namespaced": True},
    # the GKE Gateway controller's (multi-cluster Gateway entry for signalling)
    "gateway.networking.k8s.io/v1/httproutes": {"kind": "HTTPRoute", "namespaced": True},
    "networking.gke.io/v1/healthcheckpolicies": {"kind": "HealthCheckPolicy", "namespaced": True},
}


def _now(backdate_s: float = 0.0) -> str:
    moment = datetime.now(tz=UTC) - timedelta(seconds=backdate_s)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class ApiError(k8s.KubernetesError):
    pass


def _error(status: int, reason: str, message: str) -> ApiError:
    return ApiError(status=status, reason=reason, message=message, details={})


@attrs.define(kw_only=True)
class ShimmedKubernetes(kmock.KubernetesEmulator):
    """One fake cluster. See the module docstring."""

    cluster_name: str = "cluster"
    git_version: str = "v1.31.2"
    crds: set[str] = attrs.field(factory=lambda: set(CRDS))
    workloads: Workloads = attrs.field(factory=Workloads)
    pod_backends: dict[tuple[str, str, int], str] = attrs.field(factory=dict)
    # requests the API server fails to dial a pod's port with, before it reaches it again
    pod_blips: dict[tuple[str, str, int], int] = attrs.field(factory=dict)
    observers: list[Callable[[ShimmedKubernetes, str, Obj | None], None]] = attrs.field(
        factory=list
    )
    arrivals: list[float] = attrs.field(factory=list)  # monotonic time of each request
    backdate_s: float = 0.0  # new objects look this much older (e.g. long-settled exports)
    faults: list[tuple[str, int]] = attrs.field(factory=list)  # (path prefix, status), once each
    delays: dict[str, float] = attrs.field(factory=dict)  # path prefix -> seconds before answering
    # (namespace, pod, container) -> [(unix time, line)]: what the pod log API serves
    pod_logs: dict[tuple[str, str, str], list[tuple[float, str]]] = attrs.field(factory=dict)
    _rv: Iterator[int] = attrs.field(factory=lambda: itertools.count(1000))
    _last_rv: int = 1000
    _owners: dict[Key, dict[Path, str]] = attrs.field(factory=dict)
    _events: list[tuple[int, Key, str, Obj]] = attrs.field(factory=list)  # for watches

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        bundled = importlib.resources.files("kmock._internal") / "resources.json.gz"
        self.resources.load_data(gzip.decompress(bundled.read_bytes()))  # load_bundled, no warning
        for res in [r for r in self.resources if r.group == "gateway.networking.k8s.io"]:
            del self.resources[res]
        for name in self.crds:
            self.resources[name] = kmock.ResourceInfo(
                **CRDS[name], verbs={"get", "list", "create", "patch", "update", "delete"}
            )

    async def _serve_server_version(self, request: rendering.Request) -> Any:
        major, minor = self.git_version.lstrip("v").split(".")[:2]
        return {"major": major, "minor": minor, "gitVersion": self.git_version}

    # --- request log helpers ------------------------------------------------------

    def requests_log(self) -> list[rendering.Request]:
        return list(self._requests)

    def writes(self, *, include_dry_run: bool = True) -> list[str]:
        return [
            f"{r.method.value} {r.url.path}"
            for r in self._requests
            if r.method.value in WRITE_METHODS
            and (include_dry_run or r.params.get("dryRun") != "All")
        ]

    def write_times(self) -> list[float]:
        """When each persisted write arrived (time.monotonic)."""
        return [
            at
            for r, at in zip(self._requests, self.arrivals, strict=True)
            if r.method.value in WRITE_METHODS and r.params.get("dryRun") != "All"
        ]

    def live(self, plural: str, namespace: str | None, name: str) -> Obj | None:
        for (res, ns, nm), obj in self.objects.items():
            if res.plural == plural and ns == namespace and nm == name and not obj.deleted:
                return dict(copy.deepcopy(obj.raw))
        return None

    # --- HTTP entry: our own path parsing (kmock's fails on /api/v1/namespaces) ----

    async def __call__(self, raw: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        body = await raw.read()
        group, version, plural, namespace, name, sub = parse_kube_path(raw.path)
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                data = yaml.safe_load(body)
        request = rendering.Request(
            id=len(self._requests),
            raw_request=raw,
            url=raw.url,
            method=raw.method,
            params=dict(raw.query),
            headers=dict(raw.headers),
            data=data,
            body=body,
            text=body.decode("utf-8", "replace"),
            action=None,
            resource=None
            if group is None
            else kmock.resource(group=group, version=version, plural=plural),
            namespace=namespace,
            name=name,
            subresource=sub,
        )
        self._requests.append(request)
        self.arrivals.append(time.monotonic())
        for prefix, seconds in self.delays.items():
            if raw.path.startswith(prefix):
                await asyncio.sleep(seconds)
        for index, (prefix, status) in enumerate(self.faults):
            if raw.path.startswith(prefix):
                del self.faults[index]
                return await self._render_error(_error(status, "Injected", f"injected {status}"))
        try:
            if plural is not None and raw.query.get("watch", "").lower() in ("true", "1"):
                return await self._watch(request, raw)
            if plural is not None:
                return await self._serve_object(request, raw)
            return await super()._handle(request)  # discovery: kmock's own
        except Exception as e:  # a Status body, as the API server sends, never a dropped socket
            return await self._render_error(e)

    # --- objects --------------------------------------------------------------------

    def _info(self, request: rendering.Request) -> kmock.ResourceInfo:
        assert request.resource is not None
        if request.resource not in self.resources:
            raise _error(
                404,
                "NotFound",
                f"the server could not find the requested resource ({request.url.path})",
            )
        return self.resources[request.resource]

    async def _serve_object(
        self, request: rendering.Request, raw: aiohttp.web.BaseRequest
    ) -> aiohttp.web.StreamResponse:
        assert request.resource is not None
        if request.resource.plural == "pods" and (request.subresource or "").startswith("proxy"):
            return await self._proxy(request, raw)
        if request.resource.plural == "pods" and request.subresource == "log":
            return self._log(request, raw)
        info = self._info(request)
        namespace = request.namespace if info.namespaced else None
        method = request.method.value
        if method == "GET" and request.name is None:
            return aiohttp.web.json_response(self._list(request, info, namespace))
        if method == "POST":
            body = request.data or {}
            name = body.get("metadata", {}).get("name", "")
            result, status = self._create(request, info, (request.resource, namespace, name)), 201
        else:
            key: Key = (request.resource, namespace, request.name or "")
            result, status = self._named(request, info, key), 200
        return aiohttp.web.json_response(result, status=status)

    def _named(self, request: rendering.Request, info: kmock.ResourceInfo, key: Key) -> Obj:
        method = request.method.value
        current = self._current(key)
        if method == "GET":
            if current is None:
                raise self._not_found(info, key)
            return current
        if method == "DELETE":
            if current is None:
                raise self._not_found(info, key)
            self._delete(key)
            return {"kind": "Status", "apiVersion": "v1", "status": "Success"}
        content_type = request.headers.get("Content-Type", "")
        body = request.data if request.data is not None else {}
        manager = request.params.get("fieldManager", "unknown")
        if method == "PATCH" and "apply-patch" in content_type:
            if body.get("metadata", {}).get("name") != key[2]:
                raise _error(400, "BadRequest", "metadata.name must match the URL")
            return self._apply(request, info, key, body, manager, current)
        if current is None:
            raise self._not_found(info, key)
        if method == "PUT":
            rv = body.get("metadata", {}).get("resourceVersion")
            if rv and rv != current["metadata"]["resourceVersion"]:
                raise _error(
                    409,
                    "Conflict",
                    "the object has been modified; please apply your changes to the latest version",
                )
            new = copy.deepcopy(body)
        elif "json-patch" in content_type:
            import jsonpatch

            new = jsonpatch.apply_patch(current, body)
        else:
            new = merge(current, body)
        if request.subresource == "status":
            new = {**current, "status": new.get("status", {})}
        elif request.subresource is None:
            self._own(key, manager, body)
        return self._store(request, key, current, new)

    def _create(self, request: rendering.Request, info: kmock.ResourceInfo, key: Key) -> Obj:
        if self._current(key) is not None:
            raise _error(409, "AlreadyExists", f'{info.kind} "{key[2]}" already exists')
        body = copy.deepcopy(request.data or {})
        self._own(key, request.params.get("fieldManager", "unknown"), body)
        return self._store(request, key, None, body)

    def _apply(
        self,
        request: rendering.Request,
        info: kmock.ResourceInfo,
        key: Key,
        applied: Obj,
        manager: str,
        current: Obj | None,
    ) -> Obj:
        owners = self._owners.get(key, {}) if current is not None else {}
        applied_leaves = dict(leaves(applied))
        conflicts = [
            path
            for path, value in applied_leaves.items()
            if owners.get(path, manager) != manager and lookup(current, path) != value
        ]
        force = request.params.get("force") == "true"
        if conflicts and not force:
            listed = ", ".join(
                f'conflict with "{owners[p]}": .{".".join(p)}' for p in conflicts[:5]
            )
            raise _error(
                409, "Conflict", f"Apply failed with {len(conflicts)} conflict(s): {listed}"
            )
        new = copy.deepcopy(current) if current is not None else {}
        for path, owner in list(owners.items()):
            if owner == manager and path not in applied_leaves:
                remove(new, path)
        new = merge(new, applied)
        if request.params.get("dryRun") != "All":
            kept = {p: o for p, o in owners.items() if o != manager or p in applied_leaves}
            self._owners[key] = kept | dict.fromkeys(applied_leaves, manager)
        return self._store(request, key, current, new)

    def _own(self, key: Key, manager: str, body: Obj) -> None:
        owners = self._owners.setdefault(key, {})
        for path, _ in leaves(body):
            if path[0] != "status":
                owners[path] = manager

    def _store(self, request: rendering.Request, key: Key, current: Obj | None, new: Obj) -> Obj:
        resource, namespace, name = key
        new.setdefault("metadata", {})
        new["metadata"]["name"] = name
        if namespace is not None:
            if self.live("namespaces", None, namespace) is None:
                raise _error(404, "NotFound", f'namespaces "{namespace}" not found')
            new["metadata"]["namespace"] = namespace
        info = self.resources[resource]
        new.setdefault("apiVersion", f"{resource.group}/{resource.version}".lstrip("/"))
        new.setdefault("kind", info.kind)
        if current is None:
            new["metadata"] |= {
                "uid": str(uuid.uuid4()),
                "creationTimestamp": _now(self.backdate_s),
            }
            new["metadata"]["generation"] = 1
        else:
            for field in SYSTEM_META:
                if field in current["metadata"]:
                    new["metadata"][field] = current["metadata"][field]
            if _spec(new) != _spec(current):
                new["metadata"]["generation"] = current["metadata"].get("generation", 1) + 1
            if new == current:
                return current  # a no-op write changes nothing, not even resourceVersion
        if request.params.get("dryRun") == "All":
            new["metadata"]["resourceVersion"] = str(self._last_rv)
            return new
        self._save(key, new)
        self._react(key, new)
        return self._current(key) or new

    def _save(self, key: Key, new: Obj) -> None:
        event = "MODIFIED" if self._current(key) is not None else "ADDED"
        self._last_rv = next(self._rv)
        new["metadata"]["resourceVersion"] = str(self._last_rv)
        if key in self.objects:
            self.objects[key].create(new)
        else:
            self.objects[key] = new
        self._events.append((self._last_rv, key, event, copy.deepcopy(new)))

    def _delete_one(self, key: Key) -> None:
        last = dict(copy.deepcopy(self.objects[key].raw))
        self.objects[key].delete()
        self._last_rv = next(self._rv)
        last["metadata"]["resourceVersion"] = str(self._last_rv)
        self._events.append((self._last_rv, key, "DELETED", last))

    def _current(self, key: Key) -> Obj | None:
        if key in self.objects and not self.objects[key].deleted:
            return dict(copy.deepcopy(self.objects[key].raw))
        return None

    def _delete(self, key: Key) -> None:
        self._delete_one(key)
        self._owners.pop(key, None)
        if key[0].plural == "namespaces":
            for other in [k for k in self.objects if k[1] == key[2]]:
                if not self.objects[other].deleted:
                    self._delete_one(other)
        for observer in self.observers:
            observer(self, key[0].plural, None)

    def _not_found(self, info: kmock.ResourceInfo, key: Key) -> ApiError:
        return _error(404, "NotFound", f'{(info.kind or "object").lower()}s "{key[2]}" not found')

    def _list(
        self, request: rendering.Request, info: kmock.ResourceInfo, namespace: str | None
    ) -> Obj:
        selector = request.params.get("labelSelector", "")
        items = [
            obj.raw
            for (res, ns, _), obj in self.objects.items()
            if res == request.resource
            and not obj.deleted
            and (namespace is None or ns == namespace)
            and selector_matches(selector, obj.raw.get("metadata", {}).get("labels", {}))
        ]
        res = request.resource
        assert res is not None
        return {
            "apiVersion": f"{res.group}/{res.version}".lstrip("/"),
            "kind": f"{info.kind}List",
            "metadata": {"resourceVersion": str(self._last_rv)},
            "items": copy.deepcopy(items),
        }

    # --- the fake controllers ---------------------------------------------------------

    def _react(self, key: Key, obj: Obj) -> None:
        kind = obj.get("kind")
        if kind == "StatefulSet":
            self._statefulset(key, obj)
        elif kind == "Gateway":
            self._set_status(key, obj, gateway_status(obj, self.workloads.gateway_address))
        elif kind == "HTTPRoute":
            self._set_status(key, obj, httproute_status(obj))
        elif kind == "ServiceExport":
            conditions = [
                {"type": t, "status": "True", "reason": t} for t in ("Initialized", "Exported")
            ]
            self._set_status(key, obj, {"conditions": conditions})
        elif kind == "Namespace" and not obj.get("status"):
            self._set_status(key, obj, {"phase": "Active"})
        for observer in self.observers:
            observer(self, key[0].plural, obj)

    def _set_status(self, key: Key, obj: Obj, status: Obj) -> None:
        if obj.get("status") != status:
            self._save(key, {**obj, "status": status})

    def _statefulset(self, key: Key, sts: Obj) -> None:
        ready = self.workloads.ready(sts)
        self._set_status(key, sts, statefulset_status(sts, ready))
        self._pods(sts, int(sts.get("spec", {}).get("replicas", 1)), ready)

    def _pods(self, sts: Obj, replicas: int, ready: bool) -> None:
        """Pods at or above the RollingUpdate partition get the new template; the ones
        below keep theirs (a partitioned rolling update)."""
        namespace, name = sts["metadata"].get("namespace"), sts["metadata"]["name"]
        pods = kmock.resource("", "v1", "pods")
        for index in range(max(replicas, 8)):
            key: Key = (pods, namespace, f"{name}-{index}")
            current = self._current(key)
            if index >= replicas:
                if current is not None:
                    self._delete(key)
                continue
            if current is not None and index < partition(sts):
                continue
            pod = pod_manifest(sts, key[2], ready, self.workloads.pod_ip, _now())
            if current is None or any(current.get(k) != pod[k] for k in ("spec", "status")):
                self._save(key, pod)

    def refresh(self) -> None:
        """Re-run the controllers (after a test changed `workloads`)."""
        for key, obj in list(self.objects.items()):
            if not obj.deleted and obj.raw.get("kind") in ("StatefulSet", "Gateway"):
                self._react(key, dict(copy.deepcopy(obj.raw)))

    # --- watch -------------------------------------------------------------------------

    def _watched(self, request: rendering.Request, key: Key, obj: Obj) -> bool:
        info = self._info(request)  # a known resource (checked before the watch started)
        namespace_ok = not (info.namespaced and request.namespace) or key[1] == request.namespace
        field = request.params.get("fieldSelector", "")
        name_ok = not field.startswith("metadata.name=") or key[2] == field.split("=", 1)[1]
        labels = obj.get("metadata", {}).get("labels", {})
        return (
            key[0] == request.resource
            and namespace_ok
            and name_ok
            and selector_matches(request.params.get("labelSelector", ""), labels)
        )

    async def _watch(
        self, request: rendering.Request, raw: aiohttp.web.BaseRequest
    ) -> aiohttp.web.StreamResponse:
        """Watch events after `resourceVersion` (or ADDED for what exists), until timeoutSeconds."""
        self._info(request)
        since = int(request.params.get("resourceVersion") or 0)
        deadline = time.monotonic() + float(request.params.get("timeoutSeconds") or 30)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(raw)
        lines: list[Obj] = []
        if since == 0:
            for key, obj in list(self.objects.items()):
                if not obj.deleted and self._watched(request, key, obj.raw):
                    lines.append({"type": "ADDED", "object": copy.deepcopy(obj.raw)})
            since = self._last_rv
        while True:
            for rv, key, event, obj in [e for e in self._events if e[0] > since]:
                since = rv
                if self._watched(request, key, obj):
                    lines.append({"type": event, "object": obj})
            for line in lines:
                await response.write(json.dumps(line).encode() + b"\n")
            lines = []
            if time.monotonic() >= deadline:
                break
            await asyncio.sleep(0.05)
        await response.write_eof()
        return response

    # --- pod logs (GET .../pods/NAME/log: container, sinceSeconds, timestamps, limitBytes) ----

    def _log(
        self, request: rendering.Request, raw: aiohttp.web.BaseRequest
    ) -> aiohttp.web.StreamResponse:
        key = (request.namespace or "", request.name or "", raw.query.get("container", ""))
        if key not in self.pod_logs:
            raise _error(404, "NotFound", f"no container {key[2]!r} in pod {key[1]!r}")
        since = time.time() - float(raw.query.get("sinceSeconds", "1e12"))
        stamped = raw.query.get("timestamps") == "true"
        lines = [
            (datetime.fromtimestamp(when, UTC).isoformat().replace("+00:00", "Z")
             + " " if stamped else "") + line + "\n"
            for when, line in self.pod_logs[key]
            if when >= since
        ]  # fmt: skip
        body = "".join(lines).encode()[: int(raw.query.get("limitBytes", "100000000"))]
        return aiohttp.web.Response(body=body, content_type="text/plain")

    # --- pod proxy --------------------------------------------------------------------

    async def _proxy(
        self, request: rendering.Request, raw: aiohttp.web.BaseRequest
    ) -> aiohttp.web.StreamResponse:
        pod, _, port = (request.name or "").partition(":")
        key = (request.namespace or "", pod, int(port or 0))
        backend = self.pod_backends.get(key)
        # as apimachinery's proxy transport (pkg/util/proxy/transport.go) answers a failed dial
        dial = f"error trying to reach service: dial tcp 10.0.0.1:{port}"
        if backend is None:  # nothing listens on the pod's port
            raise _error(503, "ServiceUnavailable", f"{dial}: connect: connection refused")
        if self.pod_blips.get(key, 0) > 0:  # the network between them drops the dial
            self.pod_blips[key] -= 1
            raise _error(503, "ServiceUnavailable", f"{dial}: i/o timeout")
        path = (request.subresource or "proxy").removeprefix("proxy")
        async with (
            aiohttp.ClientSession() as session,
            session.request(
                raw.method,
                backend.rstrip("/") + "/" + path.lstrip("/"),
                params=dict(raw.query),
                data=await raw.read() if raw.method in WRITE_METHODS else None,
                timeout=aiohttp.ClientTimeout(total=10),
            ) as response,
        ):
            payload = await response.read()
            return aiohttp.web.Response(
                body=payload, status=response.status, content_type=response.content_type
            )


def _spec(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}
