"""Kubernetes access shared by the operator and the scheduler's Kubernetes executor:
building the API client, the pod's own namespace, and VectorizeJob objects.

Needs the ``kubernetes`` client (``supersvg-common[kube]``); the other modules of
``supersvg.common`` do not import this one.
"""

from __future__ import annotations

import os
from typing import Any

import kubernetes
from kubernetes.client.rest import ApiException

from supersvg.api.jobs.vectorizejob import GROUP, PLURAL, VERSION

__all__ = ["SERVICE_ACCOUNT_NAMESPACE", "VectorizeJobs", "make_api_client", "own_namespace"]

SERVICE_ACCOUNT_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def make_api_client() -> kubernetes.client.ApiClient:
    """In-cluster credentials when running in a pod, else the kubeconfig (``$KUBECONFIG``)."""
    config = kubernetes.client.Configuration()
    try:
        kubernetes.config.load_incluster_config(client_configuration=config)
    except kubernetes.config.ConfigException:
        # The client's default path is read when it is imported; read $KUBECONFIG now.
        path = os.environ.get("KUBECONFIG", "").split(os.pathsep)[0] or None
        kubernetes.config.load_kube_config(config_file=path, client_configuration=config)
    return kubernetes.client.ApiClient(configuration=config)


def own_namespace() -> str:
    """The namespace this pod runs in; ``default`` outside a cluster."""
    try:
        with open(SERVICE_ACCOUNT_NAMESPACE) as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


class VectorizeJobs:
    """VectorizeJob objects through the custom-objects API (group, version and plural of
    the job contract). Methods block: call them from a thread in async code."""

    def __init__(self, api_client: kubernetes.client.ApiClient) -> None:
        self.custom = kubernetes.client.CustomObjectsApi(api_client)

    def get(self, namespace: str, name: str) -> dict[str, Any] | None:
        """The object, or None when there is none."""
        try:
            return dict(
                self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)
            )
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise

    def create(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self.custom.create_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, body)
        )

    def patch(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name, body)

    def patch_status(self, namespace: str, name: str, body: dict[str, Any]) -> None:
        self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, body
        )

    def delete(self, namespace: str, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name)

    def list(self, namespace: str, **options: Any) -> Any:
        """A list, or with ``watch=True, _preload_content=False`` the raw watch response."""
        return self.custom.list_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, **options
        )
