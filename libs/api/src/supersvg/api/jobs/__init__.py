"""The job contract shared by the gateway, scheduler, operator, worker and tooling.

Hand-written beside the generated ``supersvg.api.v1``: the job's settings
(:mod:`.config`), the worker's environment (:mod:`.worker_env`) and exit codes
(:mod:`.exit_codes`), the VectorizeJob resource (:mod:`.vectorizejob`), gRPC metadata
keys (:mod:`.metadata`) and the result/metrics mapping (:mod:`.results`).
"""

from supersvg.api.jobs.config import (
    GRADIENTS,
    MAX_CALLBACK_URL_CHARS,
    MAX_COLORS,
    MAX_ITERATIONS,
    MAX_PATHS,
    MAX_SEED,
    OUTPUT_FORMATS,
    PRESETS,
    PRIORITIES,
    JobConfig,
    WorkerConfig,
    config_error_message,
    config_problems,
    crd_name,
    priority_from_proto,
    priority_to_proto,
)
from supersvg.api.jobs.exit_codes import ExitCode, is_retryable
from supersvg.api.jobs.results import METRIC_FIELDS, result_from_proto, result_to_proto
from supersvg.api.jobs.worker_env import WorkerEnv, WorkerEnvError

__all__ = [
    "GRADIENTS",
    "MAX_CALLBACK_URL_CHARS",
    "MAX_COLORS",
    "MAX_ITERATIONS",
    "MAX_PATHS",
    "MAX_SEED",
    "METRIC_FIELDS",
    "OUTPUT_FORMATS",
    "PRESETS",
    "PRIORITIES",
    "ExitCode",
    "JobConfig",
    "WorkerConfig",
    "WorkerEnv",
    "WorkerEnvError",
    "config_error_message",
    "config_problems",
    "crd_name",
    "is_retryable",
    "priority_from_proto",
    "priority_to_proto",
    "result_from_proto",
    "result_to_proto",
]
