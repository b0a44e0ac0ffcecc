"""VectorizeJobs, their pods and Events in one namespace, for tests against the mock API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes

from tools.testing.kube.fixtures import KubeCluster
from tools.testing.kube.operator import PodDriver, eventually

__all__ = ["GVP", "Jobs"]

GVP = ("supersvg.io", "v1alpha1")


class Jobs:
    """VectorizeJobs, their pods and Events in one namespace, through the real client."""

    def __init__(self, cluster: KubeCluster, namespace: str = "default") -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.custom = kubernetes.client.CustomObjectsApi(cluster.api_client)
        self.core = kubernetes.client.CoreV1Api(cluster.api_client)
        self.pods = PodDriver(cluster, namespace)

    def create_local_storage(self, root: Path) -> None:
        """The storage ConfigMap and Secret the operator mounts into worker pods (envFrom),
        pointing at a local artifact folder (the test's stand-in for the object store)."""
        data = {"SUPERSVG_STORAGE_BACKEND": "local", "SUPERSVG_STORAGE_ROOT": str(root)}
        meta = {"name": "supersvg-storage"}
        self.core.create_namespaced_config_map(self.namespace, {"metadata": meta, "data": data})
        self.core.create_namespaced_secret(self.namespace, {"metadata": meta})

    def create(self, name: str, **spec: Any) -> dict[str, Any]:
        body = {
            "apiVersion": "supersvg.io/v1alpha1",
            "kind": "VectorizeJob",
            "metadata": {"name": name, **spec.pop("metadata", {})},
            "spec": {
                "input": {"key": f"uploads/{name}.png"},
                "output": {"prefix": f"results/{name}/"},
                **spec,
            },
        }
        return dict(
            self.custom.create_namespaced_custom_object(*GVP, self.namespace, "vectorizejobs", body)
        )

    def get(self, name: str) -> dict[str, Any]:
        return dict(
            self.custom.get_namespaced_custom_object(*GVP, self.namespace, "vectorizejobs", name)
        )

    def exists(self, name: str) -> bool:
        try:
            self.get(name)
        except kubernetes.client.ApiException as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def patch_spec(self, name: str, **spec: Any) -> None:
        self.custom.patch_namespaced_custom_object(
            *GVP, self.namespace, "vectorizejobs", name, {"spec": spec}
        )

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(*GVP, self.namespace, "vectorizejobs", name)

    def status(self, name: str) -> dict[str, Any]:
        return dict(self.get(name).get("status") or {})

    def pod_names(self, name: str | None = None) -> list[str]:
        pods = self.core.list_namespaced_pod(self.namespace).items
        return sorted(
            p.metadata.name
            for p in pods
            if name is None or (p.metadata.labels or {}).get("supersvg.io/vectorizejob") == name
        )

    def pod(self, name: str) -> Any:
        return self.core.read_namespaced_pod(name, self.namespace)

    def events(self, name: str) -> list[tuple[str, str]]:
        items = self.core.list_namespaced_event(
            self.namespace, field_selector=f"involvedObject.name={name}"
        ).items
        items.sort(key=lambda e: int(e.metadata.resource_version))
        return [(e.type, e.reason) for e in items]

    def wait_phase(self, name: str, phase: str, timeout: float = 15.0) -> dict[str, Any]:
        return eventually(
            lambda: (s := self.status(name)).get("phase") == phase and s,
            timeout=timeout,
            what=f"{name} to reach {phase}",
        )

    def wait_pod(self, pod: str, timeout: float = 15.0) -> Any:
        return eventually(
            lambda: pod in self.pod_names() and self.pod(pod), timeout=timeout, what=f"pod {pod}"
        )
