"""Scheduler settings (environment prefix ``SUPERSVG_SCHEDULER_``; see docs/service.md)."""

from __future__ import annotations

import base64
import shlex
import sys
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from supersvg.api.jobs.models import ModelRef
from supersvg.common.tls import GrpcTlsSettings

__all__ = ["SchedulerSettings"]


class SchedulerSettings(GrpcTlsSettings):
    model_config = SettingsConfigDict(env_prefix="SUPERSVG_SCHEDULER_", extra="ignore", frozen=True)

    #: gRPC listen address.
    listen_addr: str = "0.0.0.0:50051"
    #: Plaintext port with only the health service, for probes when the listen port
    #: requires client certificates (``tls_*``); empty: none.
    health_listen_addr: str = ""
    #: host:port workers use to reach this scheduler; default: the listen port on 127.0.0.1.
    advertise_addr: str = ""
    #: ``postgresql://user:pass@host/db`` or ``sqlite:///relative/path.db``.
    database_url: str = "sqlite:///.data/scheduler.db"
    #: ``local`` (subprocesses) or ``kubernetes`` (VectorizeJob resources).
    executor: Literal["local", "kubernetes"] = "local"
    #: Local executor: worker processes at once.
    max_concurrency: int = Field(default=2, ge=1)
    #: Queued jobs accepted before SubmitJob answers RESOURCE_EXHAUSTED (gateway: 503).
    max_queue_size: int = Field(default=1000, ge=1)
    #: Attempts per job before a crashing worker fails it.
    max_attempts: int = Field(default=3, ge=1)
    #: Active (queued + running) jobs per tenant when the tenant sets none.
    default_max_active_jobs: int = Field(default=20, ge=1)
    #: Seconds a cancelled worker gets to stop on its own, then again after SIGTERM.
    cancel_grace_seconds: float = Field(default=5.0, ge=0)
    #: How long finished jobs and their artifacts are kept (default 7 days).
    retention_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    #: How often the retention sweep runs.
    retention_interval_seconds: float = Field(default=300.0, gt=0)
    #: Uploads without a job (a gateway died between upload and submit) older than this
    #: are deleted by the retention sweep (checked at most once per this period).
    orphan_grace_seconds: float = Field(default=3600.0, gt=0)
    #: Standard Webhooks secret (``whsec_<base64>``); callbacks are refused when empty.
    callback_secret: str = ""
    #: Allow callbacks to loopback/private/link-local addresses (tests, trusted networks).
    callback_allow_private: bool = False
    callback_max_attempts: int = Field(default=8, ge=1)
    callback_backoff_seconds: float = Field(default=2.0, gt=0)
    callback_timeout_seconds: float = Field(default=10.0, gt=0)
    #: Worker command line; default ``<this python> -m supersvg.worker``.
    worker_command: str = ""
    #: SUPERSVG_DEVICE given to workers (cpu | cuda | auto).
    worker_device: str = "auto"
    #: Local executor: one log file per attempt here (empty: inherit stderr).
    worker_log_dir: str = ".data/logs"
    #: An API token (and its tenant) ensured on every start, e.g. from a Kubernetes Secret.
    bootstrap_tenant: str = "default"
    #: ``host:port`` of the Prometheus text endpoint (``/metrics``); empty = not served.
    metrics_addr: str = ""
    bootstrap_token: str = ""
    #: The learned model every job runs with (``supersvg models push NAME``); empty = the
    #: analytic coarse stage. Checked by the worker: a missing model fails the job.
    model: str = ""
    #: The model's checkpoint sha256 to insist on; empty = the digest its manifest records.
    model_sha256: str = ""

    # Admission and high availability (docs/operations.md, "Several scheduler replicas").
    #: Most attempts running at once, whatever the executor allows (0: the executor's own
    #: bound: max_concurrency locally, the K8s executor's capacity settings on a cluster).
    max_running: int = Field(default=0, ge=0)
    #: Who runs the background loops: ``auto`` (a Lease with the Kubernetes executor, a
    #: PostgreSQL advisory lock on PostgreSQL, else this replica alone), ``kubernetes``,
    #: ``database`` or ``off`` (this replica always leads: one replica only).
    leader_election: Literal["auto", "kubernetes", "database", "off"] = "auto"
    #: Name of the Lease (or of the advisory lock) the replicas share.
    leader_lease_name: str = "supersvg-scheduler"
    #: A leader silent this long is replaced (seconds); it stops itself after 2/3 of it.
    leader_lease_seconds: float = Field(default=15.0, ge=1.0)

    @field_validator("callback_secret")
    @classmethod
    def _whsec(cls, value: str) -> str:
        if value:
            raw = value.removeprefix("whsec_")
            try:
                key = base64.b64decode(raw, validate=True)
            except ValueError:
                key = b""
            if not value.startswith("whsec_") or len(key) < 16:
                raise ValueError("must be whsec_<base64 of at least 16 bytes>")
        return value

    @model_validator(mode="after")
    def _model(self) -> SchedulerSettings:
        # A malformed name or digest is the deployment's mistake: refuse to start.
        if self.model or self.model_sha256:
            ModelRef(self.model, self.model_sha256)
        return self

    def model_ref(self) -> ModelRef | None:
        """The model jobs run with, or None for the analytic coarse stage."""
        return ModelRef(self.model, self.model_sha256) if self.model else None

    def worker_argv(self) -> list[str]:
        if self.worker_command:
            return shlex.split(self.worker_command)
        return [sys.executable, "-m", "supersvg.worker"]

    def worker_scheduler_addr(self, bound_port: int) -> str:
        if self.advertise_addr:
            return self.advertise_addr
        return f"127.0.0.1:{bound_port}"
