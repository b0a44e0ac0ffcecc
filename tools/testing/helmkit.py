"""Real Helm (helm-sdkpy's Helm library) against the project's mock Kubernetes API.

The mock API (tools.testing.kube) serves the core resources and the VectorizeJob CRD. Helm also
needs the workload, RBAC, networking and policy groups, core discovery with the right
groupVersion, and an OpenAPI v3 index: Helm validates hook manifests before it creates them,
and an index that advertises server-side field validation lets the client skip its own schema
check (the rendered manifests are validated here with kubernetes-validate instead). Nothing
runs pods on the mock API, so :class:`HookDriver` plays the Job controller and the kubelet for
hooks: hook Jobs complete and test pods succeed, which is what Helm waits for.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import kubernetes
import kubernetes_validate
import yaml

from tools.testing.kube.fixtures import CRD_PATH, KubeCluster, start_kube_api
from tools.testing.kube.kmock_ext import ResourceSpec

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "supersvg"
# The newest Kubernetes release whose schemas kubernetes-validate bundles.
KUBE_VERSION = kubernetes_validate.utils.latest_version()

EXTRA_RESOURCES = (
    ResourceSpec("v1/persistentvolumeclaims", "PersistentVolumeClaim", subresources=("status",)),
    ResourceSpec("apps/v1/deployments", "Deployment", subresources=("status", "scale")),
    ResourceSpec("apps/v1/statefulsets", "StatefulSet", subresources=("status", "scale")),
    ResourceSpec("batch/v1/jobs", "Job", subresources=("status",)),
    ResourceSpec(
        "autoscaling/v2/horizontalpodautoscalers",
        "HorizontalPodAutoscaler",
        subresources=("status",),
    ),
    ResourceSpec("policy/v1/poddisruptionbudgets", "PodDisruptionBudget", subresources=("status",)),
    ResourceSpec("scheduling.k8s.io/v1/priorityclasses", "PriorityClass", namespaced=False),
    ResourceSpec("networking.k8s.io/v1/ingresses", "Ingress", subresources=("status",)),
    ResourceSpec("networking.k8s.io/v1/networkpolicies", "NetworkPolicy"),
    ResourceSpec("rbac.authorization.k8s.io/v1/roles", "Role"),
    ResourceSpec("rbac.authorization.k8s.io/v1/rolebindings", "RoleBinding"),
    ResourceSpec("rbac.authorization.k8s.io/v1/clusterroles", "ClusterRole", namespaced=False),
    ResourceSpec(
        "rbac.authorization.k8s.io/v1/clusterrolebindings", "ClusterRoleBinding", namespaced=False
    ),
    # cert-manager's kinds, as on a cluster that runs it (tls.internal.certManager).
    ResourceSpec("cert-manager.io/v1/issuers", "Issuer", subresources=("status",)),
    ResourceSpec("cert-manager.io/v1/certificates", "Certificate", subresources=("status",)),
    ResourceSpec(
        "apiextensions.k8s.io/v1/customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        subresources=("status",),
    ),
)


def _group_versions(cluster: KubeCluster) -> dict[tuple[str, str], list[tuple[Any, Any]]]:
    out: dict[tuple[str, str], list[tuple[Any, Any]]] = {}
    for res in cluster.api.resources:
        if res.version is None:  # not servable under any group/version path
            continue
        out.setdefault((res.group or "", res.version), []).append((res, cluster.api.resources[res]))
    return out


def prepare_for_helm(cluster: KubeCluster) -> None:
    """Declare what the chart creates and serve the discovery documents Helm asks for."""
    api = cluster.api
    api.declare(*EXTRA_RESOURCES)

    def core_v1(_request: Any) -> dict[str, Any]:
        # kmock reports groupVersion "/v1" for the core group, which client-go rejects.
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "v1",
            "resources": [
                {
                    "name": f"{res.plural}/{sub}" if sub else res.plural,
                    "kind": info.kind,
                    "singularName": info.singular or "",
                    "namespaced": bool(info.namespaced),
                    "verbs": sorted(info.verbs),
                    "shortNames": sorted(info.shortnames),
                }
                for res, info in _group_versions(cluster).get(("", "v1"), [])
                for sub in ["", *sorted(info.subresources)]
            ],
        }

    def openapi_index(_request: Any) -> dict[str, Any]:
        paths = {}
        for group, version in _group_versions(cluster):
            path = f"api/{version}" if not group else f"apis/{group}/{version}"
            paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash=0"}
        return {"paths": paths}

    def openapi_group_version(request: Any) -> dict[str, Any]:
        path = str(request.url.path).removeprefix("/openapi/v3/")
        parts = path.split("/")
        group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
        operations = {}
        for res, info in _group_versions(cluster).get((group, version), []):
            scope = "/namespaces/{namespace}" if info.namespaced else ""
            operations[f"/{path}{scope}/{res.plural}/{{name}}"] = {
                "patch": {
                    "x-kubernetes-group-version-kind": {
                        "group": group,
                        "version": version,
                        "kind": info.kind,
                    },
                    "parameters": [
                        {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}}
                    ],
                    "responses": {"200": {"description": "OK"}},
                }
            }
        return {
            "openapi": "3.0.0",
            "info": {"title": "mock", "version": version},
            "paths": operations,
            "components": {"schemas": {}},
        }

    api["get /api/v1"] << core_v1
    api["get /openapi/v3"] << openapi_index
    api["get", re.compile(r"^/openapi/v3/.+")] << openapi_group_version


def create_namespace(cluster: KubeCluster, name: str) -> None:
    kubernetes.client.CoreV1Api(cluster.api_client).create_namespace({"metadata": {"name": name}})


class HookDriver:
    """Completes hook Jobs and finishes test pods, as the cluster's controllers would."""

    def __init__(self, cluster: KubeCluster, namespace: str) -> None:
        self._client = cluster.new_client()
        self._namespace = namespace
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="hook-driver", daemon=True)
        #: Names of the hook Jobs and test pods finished, in order.
        self.completed: list[str] = []

    def __enter__(self) -> HookDriver:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self._client.close()

    def _run(self) -> None:
        batch = kubernetes.client.BatchV1Api(self._client)
        core = kubernetes.client.CoreV1Api(self._client)
        now = "2026-01-01T00:00:00Z"
        while not self._stop.wait(0.1):
            # Status, not names: a hook re-created on upgrade (before-hook-creation) runs again.
            for job in batch.list_namespaced_job(self._namespace).items:
                if job.status is not None and job.status.succeeded:
                    continue
                batch.patch_namespaced_job_status(
                    job.metadata.name,
                    self._namespace,
                    {
                        "status": {
                            "succeeded": 1,
                            "startTime": now,
                            "completionTime": now,
                            "conditions": [
                                {"type": "SuccessCriteriaMet", "status": "True"},
                                {"type": "Complete", "status": "True"},
                            ],
                        }
                    },
                )
                self.completed.append(job.metadata.name)
            for pod in core.list_namespaced_pod(self._namespace).items:
                hooks = (pod.metadata.annotations or {}).get("helm.sh/hook", "")
                phase = pod.status.phase if pod.status is not None else None
                if "test" not in hooks or phase in ("Succeeded", "Failed"):
                    continue
                core.patch_namespaced_pod_status(
                    pod.metadata.name, self._namespace, {"status": {"phase": "Succeeded"}}
                )
                self.completed.append(pod.metadata.name)


class HelmError(RuntimeError):
    """A Helm action failed; the message is Helm's."""


def helm(
    steps: Sequence[Mapping[str, Any]],
    *,
    cluster: KubeCluster | None = None,
    namespace: str = "default",
    chart: Path = CHART,
    timeout: float = 120,
) -> list[Any]:
    """Run Helm steps (see helm_runner.py) in a fresh process with the memory storage driver."""
    request = {
        "kubeconfig": str(cluster.kubeconfig) if cluster else None,
        "namespace": namespace,
        "chart": str(chart),
        "steps": list(steps),
    }
    env = {**os.environ, "HELM_DRIVER": "memory"}
    proc = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("helm_runner.py"))],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )
    if proc.returncode != 0:
        raise HelmError(f"helm runner exited {proc.returncode}: {proc.stderr[-3000:]}")
    results: list[Any] = json.loads(proc.stdout)
    for step, result in zip(steps, results, strict=False):
        if isinstance(result, dict) and "error" in result and not step.get("expect_error"):
            raise HelmError(f"helm {result['action']}: {result['error']}")
    return results


def install(
    cluster: KubeCluster,
    namespace: str,
    values: Mapping[str, Any],
    release: str = "supersvg",
    *,
    then: Sequence[Mapping[str, Any]] = (),
) -> list[Any]:
    """``helm install`` (no wait) into ``namespace``, then any further steps; their results."""
    steps = [{"action": "install", "release": release, "values": dict(values)}, *then]
    with HookDriver(cluster, namespace):
        return helm(steps, cluster=cluster, namespace=namespace)


def documented_production_values() -> dict[str, Any]:
    """The values docs/operations.md gives for production (its "Production values" block)."""
    text = (ROOT / "docs" / "operations.md").read_text()
    section = text[text.index("## 2. Production values") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    if block is None:
        raise AssertionError("docs/operations.md: no YAML block under 'Production values'")
    values: dict[str, Any] = yaml.safe_load(block.group(1))
    return values


def render(
    tmp_path: Path, values: Mapping[str, Any], namespace: str = "default", release: str = "supersvg"
) -> list[dict[str, Any]]:
    """Install ``values`` into a fresh mock API and return the release's manifests."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    cluster = start_kube_api(tmp_path, with_crd=CRD_PATH.exists())
    try:
        prepare_for_helm(cluster)
        create_namespace(cluster, namespace)
        (installed,) = install(cluster, namespace, values, release)
    finally:
        cluster.stop()
    return manifests(installed["manifest"])


def manifests(text: str) -> list[dict[str, Any]]:
    """The non-empty YAML documents of a rendered manifest."""
    return [doc for doc in yaml.safe_load_all(text) if doc]


def validate_strict(doc: Mapping[str, Any]) -> None:
    """Validate one built-in object against the Kubernetes schema; unknown fields fail."""
    kubernetes_validate.validate(dict(doc), KUBE_VERSION, strict=True)
