"""The worker's own settings (the job itself is :class:`~supersvg.api.jobs.WorkerEnv`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from supersvg.common.tls import GrpcTlsSettings

__all__ = ["WorkerSettings"]


class WorkerSettings(GrpcTlsSettings):
    """``SUPERSVG_WORKER_*`` plus the shared logging/tracing variables; ``tls_*`` is the
    client certificate for the scheduler (names in :mod:`supersvg.api.jobs.worker_env`)."""

    model_config = SettingsConfigDict(
        env_prefix="SUPERSVG_WORKER_", extra="ignore", frozen=True, populate_by_name=True
    )

    #: The container's termination message file (Kubernetes creates it; elsewhere absent).
    termination_log: str = Field(
        default="/dev/termination-log", validation_alias="SUPERSVG_TERMINATION_LOG"
    )
    #: Served models are downloaded here once per digest (a pod's /tmp is an emptyDir).
    model_cache_dir: str = "/tmp/supersvg-models"
