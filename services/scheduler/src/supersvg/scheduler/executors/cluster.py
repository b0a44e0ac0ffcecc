"""What the Kubernetes executor puts on the cluster, and how much of it: its settings
(``SUPERSVG_SCHEDULER_K8S_*``) and the capacity read from the GPU nodes.

Capacity (docs/kubernetes.md, "Admission"): ``MAX_RUNNING_ATTEMPTS`` is a fixed bound;
with ``GPU_CAPACITY`` the bound is also the GPUs the nodes offer (allocatable
``GPU_RESOURCE`` summed over Ready, schedulable nodes matching ``GPU_NODE_SELECTOR``,
divided by the GPUs one attempt asks for), read every ``CAPACITY_REFRESH_SECONDS``. With
both, the smaller wins; with neither, there is no bound.
"""

from __future__ import annotations

import logging
from typing import Any

import kubernetes
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supersvg.api.jobs.vectorizejob import priority_class_for
from supersvg.common.settings import ComponentSettings

__all__ = ["GpuNodes", "KubernetesExecutorSettings"]

log = logging.getLogger(__name__)


class KubernetesExecutorSettings(ComponentSettings):
    """The Kubernetes executor's own settings (``SUPERSVG_SCHEDULER_K8S_*``)."""

    model_config = SettingsConfigDict(
        env_prefix="SUPERSVG_SCHEDULER_K8S_", extra="ignore", frozen=True
    )

    #: Namespace for VectorizeJobs; empty: the scheduler pod's own namespace (or "default").
    namespace: str = ""
    #: Finished VectorizeJobs (and their pods, logs) are deleted after this long.
    ttl_seconds_after_finished: int = Field(default=3600, ge=0)
    #: Per attempt; 0 = no deadline.
    active_deadline_seconds: int = Field(default=0, ge=0)
    #: Each watch request ends after this long and is resumed (bounds stale connections).
    watch_timeout_seconds: int = Field(default=300, gt=0)
    #: Container resources of each worker pod (JSON: requests/limits); empty = the CRD
    #: default (one nvidia.com/gpu). CPU-only clusters set it without a GPU.
    resources: dict[str, dict[str, str]] = Field(default_factory=dict)
    #: Tolerations of each worker pod (JSON list), e.g. for tainted GPU nodes.
    tolerations: list[dict[str, Any]] = Field(default_factory=list)
    #: PriorityClass of each worker pod when ``priority_classes`` names none for its
    #: priority; empty = the cluster default.
    priority_class_name: str = ""

    # Admission (capacity, priority, Kueue).
    #: Job priority -> worker pod PriorityClass (JSON); ``{}`` = none by priority.
    priority_classes: dict[str, str] = Field(default_factory=dict)
    #: Most VectorizeJobs running at once; 0 = no fixed bound.
    max_running_attempts: int = Field(default=0, ge=0)
    #: Also bound attempts by the GPUs the nodes offer (reads Nodes: needs a ClusterRole).
    gpu_capacity: bool = False
    #: Extended resource counted on the nodes (and requested by a worker pod).
    gpu_resource: str = "nvidia.com/gpu"
    #: Label selector of the GPU nodes counted (empty: every node).
    gpu_node_selector: str = ""
    #: How often the nodes are read again (seconds).
    capacity_refresh_seconds: float = Field(default=30.0, gt=0)
    #: Kueue LocalQueue for worker pods (label ``kueue.x-k8s.io/queue-name``); empty: none.
    kueue_queue_name: str = ""

    def gpus_per_attempt(self) -> int:
        """GPUs one worker pod asks for (the CRD default: one)."""
        if not self.resources:
            return 1
        for kind in ("limits", "requests"):
            value = (self.resources.get(kind) or {}).get(self.gpu_resource)
            if value is not None:
                return max(0, int(value))
        return 0

    def priority_class(self, priority: str) -> str:
        """The PriorityClass of a worker pod for a job of ``priority``."""
        return priority_class_for(priority, self.priority_classes, self.priority_class_name)


class GpuNodes:
    """Attempts the GPU nodes can hold: allocatable GPUs of Ready, schedulable nodes,
    divided by the GPUs per attempt (blocking; call from a thread)."""

    def __init__(
        self, api_client: kubernetes.client.ApiClient, settings: KubernetesExecutorSettings
    ) -> None:
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.settings = settings

    def attempts(self) -> int | None:
        """None when a worker pod asks for no GPU (then GPUs bound nothing)."""
        nodes = self.core.list_node(label_selector=self.settings.gpu_node_selector or None)
        gpus = 0
        for node in nodes.items:
            if node.spec is not None and node.spec.unschedulable:
                continue
            conditions = (node.status.conditions if node.status else None) or []
            if not any(c.type == "Ready" and c.status == "True" for c in conditions):
                continue
            allocatable = (node.status.allocatable if node.status else None) or {}
            try:
                gpus += int(allocatable.get(self.settings.gpu_resource, "0"))
            except ValueError:
                log.warning("node %s: unreadable GPU count", node.metadata.name)
        per = self.settings.gpus_per_attempt()
        return gpus // per if per else None
