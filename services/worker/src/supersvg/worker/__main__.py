"""``supersvg-worker`` (also ``python -m supersvg.worker``): one attempt of one job, as a
local subprocess or in a Kubernetes pod. Settings and the job come from the environment
(docs/contracts.md), read once here and passed down."""

from __future__ import annotations

import logging
import signal
import sys
from types import FrameType

from opentelemetry import trace

from supersvg.api.jobs import ExitCode, WorkerEnv, WorkerEnvError
from supersvg.common.logging import configure_logging
from supersvg.common.settings import ConfigurationError
from supersvg.common.storage import StorageSettings, create_store
from supersvg.common.tls import TlsReloadError
from supersvg.common.tracing import configure_tracing, extract_context
from supersvg.worker.reporter import Reporter
from supersvg.worker.run import run
from supersvg.worker.settings import WorkerSettings

__all__ = ["main"]

log = logging.getLogger("supersvg.worker")


def main(argv: list[str] | None = None) -> int:
    """Entry point; takes no arguments (everything comes from the environment)."""
    del argv
    try:
        settings = WorkerSettings.from_env()
        storage = StorageSettings.from_env()
    except ConfigurationError as exc:
        print(f"supersvg-worker: {exc}", file=sys.stderr)
        return ExitCode.FAILED  # the worker's configuration, not the job: retryable
    configure_logging("worker", settings.log_level, settings.log_format)
    configure_tracing("supersvg-worker", settings.otlp_endpoint or None)
    try:
        job = WorkerEnv.from_env()
    except WorkerEnvError as exc:
        log.error("bad worker environment", extra={"reason": str(exc)})
        return ExitCode.INVALID_INPUT
    try:
        reporter = Reporter(job, settings.tls_files())
    except TlsReloadError as exc:
        # The pod's certificate files, not the job: a retryable failure.
        log.error("cannot load the TLS client certificate", extra={"reason": str(exc)})
        return ExitCode.FAILED

    def on_term(signum: int, frame: FrameType | None) -> None:
        # Cooperative first: the vectorizer polls should_cancel; the executor kills later.
        reporter.cancelled.set()

    signal.signal(signal.SIGTERM, on_term)
    ctx = extract_context({"traceparent": job.traceparent} if job.traceparent else {})
    tracer = trace.get_tracer("supersvg.worker")
    with tracer.start_as_current_span(
        "worker.run", context=ctx, attributes={"job.id": job.job_id, "job.attempt": job.attempt}
    ):
        log.info("worker starting", extra={"job_id": job.job_id, "attempt": job.attempt})
        try:
            code = run(
                job,
                reporter,
                create_store(storage),
                settings.termination_log,
                model_cache_dir=settings.model_cache_dir,
            )
        except Exception:
            log.exception("worker failed", extra={"job_id": job.job_id})
            code = ExitCode.FAILED
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
