"""The kube adapter against a fake cluster over HTTP: apply, errors, retries, deadlines."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from bcastctl.adapters.kube import ApplyConflict, KubeClient
from bcastctl.errors import ConfigError, ExitCode, UnreachableError
from fakes.clusters import ClusterSet, cluster_set

NS = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}


def configmap(value: str, extra: dict[str, str] | None = None) -> dict:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "settings", "namespace": "demo", "labels": {"app": "x"}},
        "data": {"value": value, **(extra or {})},
    }


@pytest.fixture
def cluster() -> Iterator[ClusterSet]:
    with cluster_set(["one"]) as clusters:
        yield clusters


@pytest.fixture
def kubeconfig(cluster: ClusterSet, tmp_path: Path) -> Path:
    return cluster.write_kubeconfig(tmp_path / "kc", {"dead": cluster.unreachable_url()})


def client(kubeconfig: Path, context: str = "kmock-one", timeout_s: float = 5.0) -> KubeClient:
    kube = KubeClient.from_kubeconfig(
        name=context, kubeconfig=str(kubeconfig), context=context, timeout_s=timeout_s
    )
    kube.retry_delay_s = 0.01  # the retries are counted here, not waited for
    return kube


async def test_apply_creates_updates_and_leaves_unchanged_objects_alone(cluster, kubeconfig):
    kube = client(kubeconfig)
    await kube.apply(NS)
    created = await kube.apply(configmap("1", {"old": "x"}))
    version = created["metadata"]["resourceVersion"]
    again = await kube.apply(configmap("1", {"old": "x"}))
    assert again["metadata"]["resourceVersion"] == version  # a no-op apply changes nothing
    changed = await kube.apply(configmap("2"))
    assert changed["data"] == {"value": "2"}  # a field we stopped applying is removed
    assert int(changed["metadata"]["resourceVersion"]) > int(version)
    assert [
        o["metadata"]["name"] for o in await kube.list_objects("v1", "ConfigMap", "demo", "app=x")
    ] == ["settings"]
    assert await kube.list_objects("v1", "ConfigMap", "demo", "app=y") == []
    assert await kube.delete("v1", "ConfigMap", "settings", "demo") is True
    assert await kube.delete("v1", "ConfigMap", "settings", "demo") is False
    assert await kube.get("v1", "ConfigMap", "settings", "demo") is None
    assert kube.calls["PATCH"] == 4 and kube.calls["DELETE"] == 2


async def test_dry_run_apply_returns_the_result_and_stores_nothing(cluster, kubeconfig):
    kube = client(kubeconfig)
    await kube.apply(NS)
    result = await kube.apply(configmap("1"), dry_run=True)
    assert result["data"] == {"value": "1"}
    assert await kube.get("v1", "ConfigMap", "settings", "demo") is None


async def test_conflicts_name_the_other_manager_and_force_takes_over(cluster, kubeconfig):
    kube = client(kubeconfig)
    await kube.apply(NS)
    await kube.apply(configmap("1"))
    await kube.merge_patch(
        "v1",
        "ConfigMap",
        "settings",
        "demo",
        {"data": {"value": "hand"}},
        field_manager="kubectl-edit",
    )
    with pytest.raises(ApplyConflict) as caught:
        await kube.apply(configmap("1"))
    assert 'conflict with "kubectl-edit": .data.value' in caught.value.message
    assert caught.value.exit_code == ExitCode.CHECKS_FAILED
    forced = await kube.apply(configmap("1"), force=True)
    assert forced["data"]["value"] == "1"


async def test_unreachable_cluster_is_exit_4_after_retries(kubeconfig):
    kube = client(kubeconfig, "kmock-dead")
    with pytest.raises(UnreachableError) as caught:
        await kube.version()
    assert "unreachable (Connection refused)" in caught.value.message
    assert caught.value.exit_code == ExitCode.UNREACHABLE
    assert kube.calls["GET"] == kube.attempts == 3


async def test_transient_errors_are_retried_and_credentials_errors_are_not(cluster, kubeconfig):
    kube = client(kubeconfig)
    cluster.call(lambda: cluster.clusters["one"].faults.extend([("/version", 503)] * 2))
    assert (await kube.version())["gitVersion"] == "v1.31.2"
    assert kube.calls["GET"] == 3
    cluster.call(lambda: cluster.clusters["one"].faults.append(("/version", 401)))
    with pytest.raises(UnreachableError, match="refused our credentials"):
        await kube.version()


async def test_a_slow_api_hits_the_deadline_with_a_message_saying_so(cluster, kubeconfig):
    kube = client(kubeconfig, timeout_s=0.3)
    kube.attempts = 1
    cluster.call(lambda: cluster.clusters["one"].delays.update({"/version": 2.0}))
    with pytest.raises(UnreachableError, match=r"no answer within 0.3 s"):
        await kube.version()


async def test_many_requests_at_once_leave_nothing_on_stderr(cluster, kubeconfig, caplog):
    """Every request thread keeps its connection: with the SDK's default pool (5 x cores)
    urllib3 logs "Connection pool is full, discarding connection" for each one beyond it,
    which a real run prints on the user's stderr (seen while deploy drained a region)."""
    caplog.set_level(logging.WARNING)
    kube = client(kubeconfig)
    cluster.call(lambda: cluster.clusters["one"].delays.update({"/version": 0.3}))
    answers = await asyncio.gather(*(kube.version() for _ in range(30)))
    assert {answer["gitVersion"] for answer in answers} == {"v1.31.2"}
    assert [r.getMessage() for r in caplog.records if r.name.startswith("urllib3")] == []


def test_unknown_context_is_a_config_error(kubeconfig):
    with pytest.raises(ConfigError, match="cannot load context 'nope'"):
        client(kubeconfig, "nope")


async def test_pod_proxy_reaches_a_real_http_server(cluster, kubeconfig):
    """A pod that cannot be dialled is the API server's 503 "error trying to reach
    service" (k8s.io/apimachinery pkg/util/proxy/transport.go): the pod's answer, returned
    at once; the API server's own throttling (429) is retried like any other request."""

    async def hello(request: web.Request) -> web.Response:
        return web.json_response({"path": request.path, "q": request.query.get("n")})

    app = web.Application()
    app.router.add_get("/api/cluster", hello)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        port = runner.addresses[0][1]
        cluster.call(
            lambda: cluster.clusters["one"].pod_backends.update(
                {("demo", "node-0", 9090): f"http://127.0.0.1:{port}"}
            )
        )
        kube = client(kubeconfig)
        status, body = await kube.proxy(
            "GET", "demo", "node-0", 9090, "/api/cluster", query=[("n", "3")]
        )
        assert status == 200 and b'"q": "3"' in body
        before = kube.calls["GET"]
        status, _ = await kube.proxy("GET", "demo", "node-1", 9090, "/api/cluster")
        assert status == 503  # no such pod endpoint: an answer, not an exception
        assert kube.calls["GET"] == before + 1  # the pod's answer is not asked again
        proxied = "/api/v1/namespaces/demo/pods/node-0:9090/proxy/"
        cluster.call(lambda: cluster.clusters["one"].faults.append((proxied, 429)))
        status, _ = await kube.proxy("GET", "demo", "node-0", 9090, "/api/cluster")
        assert status == 200 and kube.calls["GET"] == before + 3  # throttled once, retried
    finally:
        await runner.cleanup()
