"""The environment the chart gives each component is what its settings class reads.

Every ``SUPERSVG_<COMPONENT>_*`` variable the chart sets must name a field of the component's
pydantic settings, and the settings must build from the rendered environment (types, JSON,
required values), so a renamed or mistyped setting fails here rather than in a cluster.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import Any

import pytest

from supersvg.common.storage import StorageSettings
from supersvg.gateway.settings import GatewaySettings
from supersvg.operator.settings import OperatorSettings
from supersvg.scheduler.settings import SchedulerSettings
from tools.testing import helmkit
from tools.testing.kube.fixtures import KubeCluster

RELEASE = "supersvg"
SETTINGS = {
    "gateway": ("SUPERSVG_GATEWAY_", GatewaySettings),
    "scheduler": ("SUPERSVG_SCHEDULER_", SchedulerSettings),
    "migrations": ("SUPERSVG_SCHEDULER_", SchedulerSettings),
    "operator": ("SUPERSVG_OPERATOR_", OperatorSettings),
}
K8S_PREFIX = "SUPERSVG_SCHEDULER_K8S_"
# The executor's own settings the chart sets (checked against its class once it exists).
K8S_SET = {
    K8S_PREFIX + n
    for n in (
        "NAMESPACE",
        "ACTIVE_DEADLINE_SECONDS",
        "TTL_SECONDS_AFTER_FINISHED",
        "RESOURCES",
        "TOLERATIONS",
        "PRIORITY_CLASS_NAME",
        "PRIORITY_CLASSES",
        "MAX_RUNNING_ATTEMPTS",
        "GPU_CAPACITY",
        "GPU_RESOURCE",
        "GPU_NODE_SELECTOR",
        "CAPACITY_REFRESH_SECONDS",
        "KUEUE_QUEUE_NAME",
    )
}


def _k8s_executor_fields() -> set[str] | None:
    """The Kubernetes executor's variables, or None while it is not part of the scheduler."""
    try:
        from supersvg.scheduler.executors.kubernetes import KubernetesExecutorSettings
    except ImportError:
        return None
    return {K8S_PREFIX + name.upper() for name in KubernetesExecutorSettings.model_fields}


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[dict[str, Any]]]:
    from tools.testing.kube.fixtures import CRD_PATH, start_kube_api

    cluster: KubeCluster = start_kube_api(
        tmp_path_factory.mktemp("kube"), with_crd=CRD_PATH.exists()
    )
    try:
        helmkit.prepare_for_helm(cluster)
        helmkit.create_namespace(cluster, "ns")
        # Mutual TLS on, so that its variables are checked too.
        values = {
            "tracing": {"otlpEndpoint": "http://otel:4317"},
            "tls": {"internal": {"enabled": True}},
        }
        (release,) = helmkit.install(cluster, "ns", values)
    finally:
        cluster.stop()
    docs = helmkit.manifests(release["manifest"])
    yield docs + [d for h in release["hooks"] for d in helmkit.manifests(h["manifest"])]


def _environment(docs: list[dict[str, Any]], container: dict[str, Any]) -> dict[str, str]:
    """The container's environment as the kubelet would build it from the chart's objects."""
    objects = {(d["kind"], d["metadata"]["name"]): d for d in docs}

    def secret(name: str) -> dict[str, str]:
        data = objects[("Secret", name)]["data"]
        return {k: base64.b64decode(v).decode() for k, v in data.items()}

    env: dict[str, str] = {}
    for source in container.get("envFrom", []):
        if "configMapRef" in source:
            env.update(objects[("ConfigMap", source["configMapRef"]["name"])]["data"])
        else:
            env.update(secret(source["secretRef"]["name"]))
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif "secretKeyRef" in var["valueFrom"]:
            ref = var["valueFrom"]["secretKeyRef"]
            env[var["name"]] = secret(ref["name"])[ref["key"]]
        else:
            env[var["name"]] = "ns"  # fieldRef: metadata.namespace
    return env


@pytest.mark.parametrize("component", list(SETTINGS))
def test_chart_environment_matches_the_settings_class(
    rendered: list[dict[str, Any]], component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, settings_cls = SETTINGS[component]
    (workload,) = [
        d
        for d in rendered
        if d["kind"] in {"Deployment", "Job"} and d["metadata"]["name"] == f"{RELEASE}-{component}"
    ]
    container = workload["spec"]["template"]["spec"]["containers"][0]
    env = _environment(rendered, container)
    ours = {name for name in env if name.startswith(prefix)}
    assert ours, f"no {prefix}* variables"
    fields = {prefix + name.upper() for name in settings_cls.model_fields}
    unknown = ours - fields
    if component == "scheduler":
        k8s = {name for name in unknown if name.startswith(K8S_PREFIX)}
        assert k8s == K8S_SET
        executor_fields = _k8s_executor_fields()
        if executor_fields is not None:
            assert executor_fields >= K8S_SET
        unknown -= k8s
    assert unknown == set(), f"{component}: the chart sets variables nothing reads"

    for name in list(os.environ):
        if name.startswith("SUPERSVG_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = settings_cls.from_env()
    assert settings.log_level == "INFO" and settings.otlp_endpoint == "http://otel:4317"
    if component in {"gateway", "scheduler"}:
        storage = StorageSettings.from_env()
        assert storage.storage_backend == "s3"
        assert storage.s3_endpoint == f"{RELEASE}-minio:9000"
        assert storage.s3_access_key and storage.s3_secret_key
    if component == "scheduler":
        assert settings.executor == "kubernetes"
        assert settings.leader_election == "kubernetes"
        from supersvg.scheduler.executors.cluster import KubernetesExecutorSettings

        k8s_settings = KubernetesExecutorSettings.from_env()
        assert k8s_settings.priority_class("high") == "supersvg-high"
        assert k8s_settings.gpu_resource == "nvidia.com/gpu"
        assert settings.database_url.startswith("postgresql://")
        assert settings.bootstrap_token.startswith("ssvg_")
        assert settings.callback_secret.startswith("whsec_")
    if component == "operator":
        assert settings.worker_image.endswith("/supersvg-vectorizer:0.1.0")
        assert settings.namespace == "ns"
        assert settings.storage_secret == settings.storage_configmap == f"{RELEASE}-storage"
