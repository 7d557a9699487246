"""The kmock shim fills the gaps FINDINGS.md lists, seen through the official kubernetes client.

Namespaces paths, PUT with resourceVersion conflicts, resourceVersion/uid/creationTimestamp,
apply creating objects, label selectors, list kind/apiVersion (DynamicClient), and watch
(from a resourceVersion, ending at timeoutSeconds).
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Iterator

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.dynamic import DynamicClient

from fakes.clusters import ClusterSet, cluster_set


@pytest.fixture
def api() -> Iterator[tuple[ClusterSet, client.ApiClient]]:
    with cluster_set(["one"]) as clusters:
        configuration = client.Configuration()
        configuration.host = clusters.urls["one"]
        with client.ApiClient(configuration) as api_client:
            yield clusters, api_client


def configmap(name: str, labels: dict[str, str] | None = None) -> client.V1ConfigMap:
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels or {}), data={"k": name}
    )


def test_namespaces_and_object_metadata(api) -> None:
    _, api_client = api
    core = client.CoreV1Api(api_client)
    created = core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="ns")))
    assert created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None
    assert [n.metadata.name for n in core.list_namespace().items] == ["ns"]
    assert core.read_namespace("ns").status.phase == "Active"
    with pytest.raises(ApiException) as missing:
        core.create_namespaced_config_map("elsewhere", configmap("x"))
    assert missing.value.status == 404
    core.delete_namespace("ns")
    with pytest.raises(ApiException) as gone:
        core.read_namespace("ns")
    assert gone.value.status == 404


def test_put_checks_resource_version_and_selectors_filter(api) -> None:
    _, api_client = api
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="ns")))
    core.create_namespaced_config_map("ns", configmap("a", {"tier": "web"}))
    core.create_namespaced_config_map("ns", configmap("b", {"tier": "db"}))
    current = core.read_namespaced_config_map("a", "ns")
    current.data = {"k": "changed"}
    replaced = core.replace_namespaced_config_map("a", "ns", current)
    assert replaced.data == {"k": "changed"}
    assert int(replaced.metadata.resource_version) > int(current.metadata.resource_version)
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_config_map("a", "ns", current)  # the old resourceVersion
    assert stale.value.status == 409
    selected = core.list_namespaced_config_map("ns", label_selector="tier in (db,cache)")
    assert [c.metadata.name for c in selected.items] == ["b"]
    assert [
        c.metadata.name
        for c in core.list_namespaced_config_map("ns", label_selector="tier!=db").items
    ] == ["a"]


def test_dynamic_client_lists_with_kind_and_api_version(api) -> None:
    _, api_client = api
    client.CoreV1Api(api_client).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name="ns"))
    )
    dynamic = DynamicClient(api_client)
    configmaps = dynamic.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.server_side_apply(
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "c"},
            "data": {"x": "1"},
        },
        name="c",
        namespace="ns",
        field_manager="test",
    )
    listed = configmaps.get(namespace="ns")
    assert listed.kind == "ConfigMapList" and [i.metadata.name for i in listed.items] == ["c"]


def test_watch_streams_changes_after_a_resource_version_and_ends(api) -> None:
    _, api_client = api
    core = client.CoreV1Api(api_client)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="ns")))
    first = core.create_namespaced_config_map("ns", configmap("early"))
    core.create_namespaced_config_map("ns", configmap("late", {"watch": "me"}))
    core.delete_namespaced_config_map("early", "ns")

    def from_version() -> list[tuple[str, str]]:
        return [
            (event["type"], event["object"].metadata.name)
            for event in watch.Watch().stream(
                core.list_namespaced_config_map,
                "ns",
                resource_version=first.metadata.resource_version,
                timeout_seconds=1,
            )
        ]

    def by_label() -> list[str]:
        return [
            event["object"].metadata.name
            for event in watch.Watch().stream(
                core.list_namespaced_config_map, "ns", label_selector="watch=me", timeout_seconds=1
            )
        ]

    # both watches at once: each lasts its whole timeoutSeconds (whole seconds in the API)
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        events, labelled = pool.submit(from_version), pool.submit(by_label)
        assert events.result(10) == [("ADDED", "late"), ("DELETED", "early")]
        assert labelled.result(10) == ["late"]
