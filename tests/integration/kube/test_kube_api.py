"""The mock Kubernetes API (kmock + protocol fixes) through the real ``kubernetes`` client."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from typing import Any

import kubernetes
import pytest
from kubernetes.client.rest import ApiException

from tools.testing.kube.fixtures import KubeCluster

POD = {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def _pod(name: str | None = None, **meta: Any) -> dict[str, Any]:
    metadata: dict[str, Any] = dict(meta)
    if name:
        metadata["name"] = name
    return {"apiVersion": "v1", "kind": "Pod", "metadata": metadata, **POD}


def _vj(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "supersvg.io/v1alpha1",
        "kind": "VectorizeJob",
        "metadata": {"name": name},
        "spec": {"input": {"key": "in.png"}, "output": {"prefix": "out/"}, **spec},
    }


def test_create_returns_201_with_server_fields(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    data, status, _ = core.create_namespaced_pod_with_http_info("default", _pod("p1"))
    assert status == 201
    assert data.metadata.uid and data.metadata.creation_timestamp is not None
    assert int(data.metadata.resource_version) > 0
    generated = core.create_namespaced_pod("default", _pod(generateName="work-"))
    assert generated.metadata.name.startswith("work-") and len(generated.metadata.name) == 10


def test_conflicts_and_canonical_reasons(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    pod = core.create_namespaced_pod("default", _pod("p1", labels={"app": "x"}))
    with pytest.raises(ApiException) as exists:
        core.create_namespaced_pod("default", _pod("p1"))
    assert exists.value.status == 409
    assert json.loads(exists.value.body)["reason"] == "AlreadyExists"

    patched = core.patch_namespaced_pod("p1", "default", {"metadata": {"labels": {"b": "2"}}})
    assert int(patched.metadata.resource_version) > int(pod.metadata.resource_version)
    assert patched.metadata.labels == {"app": "x", "b": "2"}

    # A replace carrying the old resourceVersion is a stale write.
    with pytest.raises(ApiException) as stale:
        core.replace_namespaced_pod("p1", "default", pod)
    assert stale.value.status == 409
    assert json.loads(stale.value.body)["reason"] == "Conflict"
    # With the current resourceVersion the replace goes through (PUT is routed).
    patched.metadata.labels = {"only": "this"}
    replaced = core.replace_namespaced_pod("p1", "default", patched)
    assert replaced.metadata.labels == {"only": "this"}

    # A failed JSON-patch test is 422 Invalid, and nothing changes.
    with pytest.raises(ApiException) as invalid:
        core.patch_namespaced_pod(
            "p1", "default", [{"op": "test", "path": "/metadata/name", "value": "other"}]
        )
    assert invalid.value.status == 422
    assert json.loads(invalid.value.body)["reason"] == "Invalid"

    with pytest.raises(ApiException) as missing:
        core.read_namespaced_pod("nope", "default")
    assert missing.value.status == 404
    assert json.loads(missing.value.body)["reason"] == "NotFound"


def test_status_subresource_is_separate(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    core.create_namespaced_pod("default", _pod("p1"))
    core.patch_namespaced_pod_status("p1", "default", {"status": {"phase": "Running"}})
    # A main-resource write cannot change status; a status write cannot change the spec.
    core.patch_namespaced_pod("p1", "default", {"status": {"phase": "Failed"}})
    core.patch_namespaced_pod_status(
        "p1", "default", {"spec": {"nodeName": "n1"}, "status": {"phase": "Succeeded"}}
    )
    pod = core.read_namespaced_pod("p1", "default")
    assert pod.status.phase == "Succeeded"
    assert pod.spec.node_name is None


def test_lists_have_kind_version_and_selectors(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    core.create_namespaced_pod("default", _pod("a", labels={"tier": "gpu", "job": "1"}))
    core.create_namespaced_pod("default", _pod("b", labels={"tier": "cpu"}))
    core.create_namespaced_pod("default", _pod("c"))
    raw = json.loads(
        urllib.request.urlopen(f"{kube_api.url}/api/v1/namespaces/default/pods").read()
    )
    assert raw["kind"] == "PodList" and raw["apiVersion"] == "v1"
    assert int(raw["metadata"]["resourceVersion"]) == kube_api.api.resource_version

    def names(selector: str) -> list[str]:
        items = core.list_namespaced_pod("default", label_selector=selector).items
        return sorted(p.metadata.name for p in items)

    assert names("tier=gpu") == ["a"]
    assert names("tier!=gpu") == ["b", "c"]
    assert names("tier in (gpu,cpu)") == ["a", "b"]
    assert names("tier,!job") == ["b"]
    fields = core.list_namespaced_pod("default", field_selector="metadata.name=c").items
    assert [p.metadata.name for p in fields] == ["c"]


def test_namespaces_are_served(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    core.create_namespace({"metadata": {"name": "jobs"}})
    assert {n.metadata.name for n in core.list_namespace().items} == {"default", "jobs"}
    assert core.read_namespace("jobs").metadata.name == "jobs"
    core.create_namespaced_pod("jobs", _pod("p"))
    assert [p.metadata.name for p in core.list_namespaced_pod("jobs").items] == ["p"]
    assert core.list_namespaced_pod("default").items == []


def test_watch_resumes_from_resource_version(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    first = core.create_namespaced_pod("default", _pod("p1"))
    core.patch_namespaced_pod_status("p1", "default", {"status": {"phase": "Running"}})
    core.delete_namespaced_pod("p1", "default")

    watch = kubernetes.watch.Watch()
    events = [
        (e["type"], e["object"].metadata.name)
        for e in watch.stream(
            core.list_namespaced_pod,
            "default",
            resource_version=first.metadata.resource_version,
            timeout_seconds=1,
        )
    ]
    # Only what happened after the given version: no replay of the creation.
    assert events == [("MODIFIED", "p1"), ("DELETED", "p1")]


def test_watch_streams_live_events_and_times_out(kube_api: KubeCluster) -> None:
    client = kube_api.new_client()
    core = kubernetes.client.CoreV1Api(client)
    listed = core.list_namespaced_pod("default", label_selector="w=1")
    seen: list[tuple[str, str]] = []

    def consume() -> None:
        watch = kubernetes.watch.Watch()
        for e in watch.stream(
            core.list_namespaced_pod,
            "default",
            label_selector="w=1",
            resource_version=listed.metadata.resource_version,
            timeout_seconds=2,
        ):
            seen.append((e["type"], e["object"].metadata.name))

    thread = threading.Thread(target=consume)
    thread.start()
    other = kubernetes.client.CoreV1Api(kube_api.api_client)
    other.create_namespaced_pod("default", _pod("ignored"))
    other.create_namespaced_pod("default", _pod("w", labels={"w": "1"}))
    thread.join(timeout=10)
    assert not thread.is_alive(), "the watch did not honour timeoutSeconds"
    assert seen == [("ADDED", "w")]


def test_watch_from_compacted_version_is_gone(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    old = core.create_namespaced_pod("default", _pod("p1")).metadata.resource_version
    core.create_namespaced_pod("default", _pod("p2"))
    kube_api.compact()
    with pytest.raises(ApiException) as gone:
        list(
            kubernetes.watch.Watch().stream(
                core.list_namespaced_pod, "default", resource_version=old, timeout_seconds=1
            )
        )
    assert gone.value.status == 410


def test_finalizers_delay_deletion_and_owners_collect_dependents(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    owner = core.create_namespaced_pod("default", _pod("owner", finalizers=["x.io/keep"]))
    ref = {
        "apiVersion": "v1",
        "kind": "Pod",
        "name": "owner",
        "uid": owner.metadata.uid,
        "controller": True,
    }
    core.create_namespaced_pod("default", _pod("child", ownerReferences=[ref]))
    core.delete_namespaced_pod("owner", "default")
    marked = core.read_namespaced_pod("owner", "default")
    assert marked.metadata.deletion_timestamp is not None
    assert core.read_namespaced_pod("child", "default")  # still there while the owner is

    # Removing the finalizer (a JSON patch with a test op, as kopf does) completes deletion.
    core.patch_namespaced_pod(
        "owner",
        "default",
        [
            {"op": "test", "path": "/metadata/finalizers", "value": ["x.io/keep"]},
            {"op": "remove", "path": "/metadata/finalizers"},
        ],
    )
    assert core.list_namespaced_pod("default").items == []


def test_custom_resources_are_validated_and_defaulted(kube_api: KubeCluster) -> None:
    custom = kubernetes.client.CustomObjectsApi(kube_api.api_client)
    args = ("supersvg.io", "v1alpha1", "default", "vectorizejobs")
    created = custom.create_namespaced_custom_object(*args, _vj("ok"))
    assert created["spec"]["config"] == {
        "maxPaths": 256,
        "gradients": "auto",
        "numIterations": 100,
        "preset": "auto",
        "seed": 0,
        "outputFormat": "svg",
    }
    assert created["spec"]["resources"] == {"limits": {"nvidia.com/gpu": "1"}}
    with pytest.raises(ApiException) as invalid:
        custom.create_namespaced_custom_object(*args, _vj("bad", config={"maxPaths": 0}))
    assert invalid.value.status == 422
    body = json.loads(invalid.value.body)
    assert body["reason"] == "Invalid"
    assert "spec.config.maxPaths" in body["message"]
    # Custom resources take merge patches only (no strategic merge, as on a real server).
    with pytest.raises(ApiException) as unsupported:
        custom.patch_namespaced_custom_object(
            *args,
            "ok",
            {"spec": {"cancel": True}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert unsupported.value.status == 415
    # The status subresource is served for the CRD as declared.
    custom.patch_namespaced_custom_object_status(*args, "ok", {"status": {"phase": "Running"}})
    assert custom.get_namespaced_custom_object(*args, "ok")["status"]["phase"] == "Running"


def test_dropped_watches_end_and_resume(kube_api: KubeCluster) -> None:
    client = kube_api.new_client()
    core = kubernetes.client.CoreV1Api(client)
    rv = core.list_namespaced_pod("default").metadata.resource_version
    ended = threading.Event()

    def consume() -> None:
        list(
            kubernetes.watch.Watch().stream(
                core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=60
            )
        )
        ended.set()

    threading.Thread(target=consume, daemon=True).start()
    deadline = time.monotonic() + 10
    while kube_api.api.open_watches["pods"] < 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    kubernetes.client.CoreV1Api(kube_api.api_client).create_namespaced_pod("default", _pod("p"))
    kube_api.drop_watches()
    assert ended.wait(5), "a dropped watch must end long before its timeout"
    # Resuming from the version seen before the drop replays what happened since.
    resumed = kubernetes.watch.Watch().stream(
        core.list_namespaced_pod, "default", resource_version=rv, timeout_seconds=1
    )
    assert [(e["type"], e["object"].metadata.name) for e in resumed] == [("ADDED", "p")]


def test_secret_string_data_becomes_data(kube_api: KubeCluster) -> None:
    core = kubernetes.client.CoreV1Api(kube_api.api_client)
    core.create_namespaced_secret(
        "default", {"metadata": {"name": "s"}, "stringData": {"token": "t0k"}}
    )
    secret = core.read_namespaced_secret("s", "default")
    assert secret.data == {"token": "dDBr"} and secret.string_data is None
