"""Operator settings, from ``SUPERSVG_OPERATOR_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supersvg.common.settings import ComponentSettings

__all__ = ["OperatorSettings"]


class OperatorSettings(ComponentSettings):
    """Everything the operator reads from its environment."""

    model_config = SettingsConfigDict(env_prefix="SUPERSVG_OPERATOR_", extra="ignore", frozen=True)

    #: Namespace to watch; empty means every namespace (cluster-wide).
    namespace: str = ""
    #: Worker image for pods (a VectorizeJob's spec.image overrides it). Required.
    worker_image: str = Field(min_length=1)
    image_pull_policy: str = "IfNotPresent"
    #: Secret and ConfigMap whose keys become the worker's storage environment (envFrom):
    #: SUPERSVG_STORAGE_BACKEND, SUPERSVG_S3_* (docs/contracts.md). Empty = not mounted.
    storage_secret: str = ""
    storage_configmap: str = ""
    #: Scheduler address given to workers of jobs that carry a worker token secret.
    scheduler_addr: str = ""
    #: Secret with the workers' client certificate for mutual TLS to the scheduler (keys
    #: ca.crt, tls.crt, tls.key); mounted read-only into every worker pod. Empty = plaintext.
    worker_tls_secret: str = ""
    #: Service account of worker pods (empty: the namespace default, token not mounted).
    worker_service_account: str = ""
    #: Extended resource that marks a GPU request; pods asking for it tolerate its taint.
    gpu_resource: str = "nvidia.com/gpu"
    #: Node labels every worker pod requires (JSON object), merged under spec.nodeSelector.
    node_selector: dict[str, str] = Field(default_factory=dict)
    #: PriorityClass per job priority (JSON, e.g. {"high": "supersvg-high"}); a job's
    #: spec.priorityClassName wins.
    priority_classes: dict[str, str] = Field(default_factory=dict)
    #: UID/GID the worker runs as (non-root).
    run_as_user: int = Field(default=10001, ge=1)
    #: Retry delay after a failed attempt: base * 2**(attempt-1), at most max.
    backoff_base_seconds: float = Field(default=10.0, ge=0)
    backoff_max_seconds: float = Field(default=300.0, ge=0)
    #: Delay before a reconcile that failed on an API error is tried again.
    error_retry_seconds: float = Field(default=5.0, gt=0)
    #: Liveness endpoint port (kopf's probe) and Prometheus metrics port (0 = off).
    health_port: int = Field(default=8081, ge=0, le=65535)
    metrics_port: int = Field(default=9090, ge=0, le=65535)
    metrics_host: str = "0.0.0.0"
    #: Watch timeouts (seconds): the server ends a watch after server_timeout; the client
    #: gives up on a silent stream after client_timeout. Shorter values resync sooner.
    watch_server_timeout: int = Field(default=300, gt=0)
    watch_client_timeout: int = Field(default=330, gt=0)
    #: Threads for synchronous handlers.
    max_workers: int = Field(default=8, gt=0)
