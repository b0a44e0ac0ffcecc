"""The worker's environment (docs/contracts.md): what every executor and the operator set
and what ``supersvg-worker`` reads. Storage variables are not part of it: each launcher
adds its own (``SUPERSVG_STORAGE_*``, ``SUPERSVG_S3_*``)."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from supersvg.api.jobs.config import WorkerConfig
from supersvg.api.jobs.models import ModelRef

__all__ = [
    "ENV_ATTEMPT",
    "ENV_CONFIG",
    "ENV_DEVICE",
    "ENV_INPUT_KEY",
    "ENV_JOB_ID",
    "ENV_MODEL",
    "ENV_MODEL_SHA256",
    "ENV_OUTPUT_PREFIX",
    "ENV_SCHEDULER_ADDR",
    "ENV_TLS_CA_FILE",
    "ENV_TLS_CERT_FILE",
    "ENV_TLS_KEY_FILE",
    "ENV_TRACEPARENT",
    "ENV_WORKER_TOKEN",
    "WorkerEnv",
    "WorkerEnvError",
]

ENV_JOB_ID = "SUPERSVG_JOB_ID"
ENV_INPUT_KEY = "SUPERSVG_JOB_INPUT_KEY"
ENV_OUTPUT_PREFIX = "SUPERSVG_JOB_OUTPUT_PREFIX"
ENV_CONFIG = "SUPERSVG_JOB_CONFIG"
ENV_ATTEMPT = "SUPERSVG_JOB_ATTEMPT"
#: host:port for ReportProgress; unset = no reports (kubectl-applied VectorizeJobs).
ENV_SCHEDULER_ADDR = "SUPERSVG_SCHEDULER_ADDR"
ENV_WORKER_TOKEN = "SUPERSVG_WORKER_TOKEN"
ENV_DEVICE = "SUPERSVG_DEVICE"
ENV_TRACEPARENT = "TRACEPARENT"
#: The served model's name (models/<name>/ in the artifact store); unset = analytic coarse
#: stage. With it, ``SUPERSVG_MODEL_SHA256`` pins the checkpoint's digest (optional).
ENV_MODEL = "SUPERSVG_MODEL"
ENV_MODEL_SHA256 = "SUPERSVG_MODEL_SHA256"
#: Mutual TLS to the scheduler (all three or none): the CA that signed the scheduler's
#: certificate, the worker's client certificate and its key. Read by the worker's settings
#: (``SUPERSVG_WORKER_`` + ``tls_*``), not by :class:`WorkerEnv`.
ENV_TLS_CA_FILE = "SUPERSVG_WORKER_TLS_CA_FILE"
ENV_TLS_CERT_FILE = "SUPERSVG_WORKER_TLS_CERT_FILE"
ENV_TLS_KEY_FILE = "SUPERSVG_WORKER_TLS_KEY_FILE"


class WorkerEnvError(ValueError):
    """The environment does not describe a job (a permanent failure of this attempt)."""


@dataclass(frozen=True)
class WorkerEnv:
    """One attempt of one job, as the worker's environment carries it.

    ``config`` is kept as sent (a JSON object): :meth:`worker_config` validates it, so a
    bad config is reported as the job's failure rather than lost with the process.
    """

    job_id: str
    input_key: str
    output_prefix: str
    config: Mapping[str, Any]
    attempt: int = 1
    scheduler_addr: str = ""
    worker_token: str = ""
    device: str = "auto"
    traceparent: str = ""
    #: The learned model to run with; None = the analytic coarse stage.
    model: ModelRef | None = None
    #: Anything else the launcher adds (e.g. a device override); wins over the above.
    extra: Mapping[str, str] = field(default_factory=dict)

    def worker_config(self) -> WorkerConfig:
        """Raises pydantic.ValidationError when the config breaks the contract."""
        return WorkerConfig.model_validate(dict(self.config))

    def to_env(self) -> dict[str, str]:
        env = {
            ENV_JOB_ID: self.job_id,
            ENV_INPUT_KEY: self.input_key,
            ENV_OUTPUT_PREFIX: self.output_prefix,
            ENV_CONFIG: json.dumps(dict(self.config), sort_keys=True),
            ENV_ATTEMPT: str(self.attempt),
            ENV_WORKER_TOKEN: self.worker_token,
        }
        if self.scheduler_addr:
            env[ENV_SCHEDULER_ADDR] = self.scheduler_addr
        if self.traceparent:
            env[ENV_TRACEPARENT] = self.traceparent
        if self.device != "auto":
            env[ENV_DEVICE] = self.device
        if self.model is not None:
            env[ENV_MODEL] = self.model.name
            if self.model.sha256:
                env[ENV_MODEL_SHA256] = self.model.sha256
        env.update(self.extra)
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> WorkerEnv:
        """Raises :class:`WorkerEnvError` when a required variable is missing or bad."""
        env = dict(os.environ if env is None else env)
        missing = [k for k in (ENV_JOB_ID, ENV_INPUT_KEY, ENV_OUTPUT_PREFIX) if not env.get(k)]
        if missing:
            raise WorkerEnvError(f"missing environment: {', '.join(missing)}")
        try:
            config = json.loads(env.get(ENV_CONFIG) or "{}")
            attempt = int(env.get(ENV_ATTEMPT) or "1")
        except ValueError as exc:
            raise WorkerEnvError(f"invalid {ENV_CONFIG} or {ENV_ATTEMPT}: {exc}") from None
        if not isinstance(config, dict):
            raise WorkerEnvError(f"{ENV_CONFIG} must be a JSON object")
        try:
            model = (
                ModelRef(env[ENV_MODEL], env.get(ENV_MODEL_SHA256, ""))
                if env.get(ENV_MODEL)
                else None
            )
        except ValueError as exc:
            raise WorkerEnvError(f"invalid {ENV_MODEL} or {ENV_MODEL_SHA256}: {exc}") from None
        prefix = env[ENV_OUTPUT_PREFIX]
        return cls(
            job_id=env[ENV_JOB_ID],
            input_key=env[ENV_INPUT_KEY],
            output_prefix=prefix if prefix.endswith("/") else prefix + "/",
            config=config,
            attempt=attempt,
            scheduler_addr=env.get(ENV_SCHEDULER_ADDR, ""),
            worker_token=env.get(ENV_WORKER_TOKEN, ""),
            device=env.get(ENV_DEVICE, "auto") or "auto",
            traceparent=env.get(ENV_TRACEPARENT, ""),
            model=model,
        )
