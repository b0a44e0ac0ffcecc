"""The job worker (``supersvg-worker``): one attempt of one job, configured by the
environment (docs/contracts.md), as a local subprocess or in a Kubernetes pod.

Reads the input and config, runs the vectorizer with progress and cancellation, writes
``output.svg``, ``preview.png`` and ``result.json`` (last), and reports the outcome over
``ReportProgress`` when ``SUPERSVG_SCHEDULER_ADDR`` is set. Exit codes: 0 completed,
2 invalid input (never retried), 3 cancelled, anything else a retryable failure.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
import time
from types import FrameType
from typing import Any

from pydantic import ValidationError

from supersvg.api.jobs import (
    ExitCode,
    WorkerEnv,
    WorkerEnvError,
    config_error_message,
    result_to_proto,
)

__all__ = ["WorkerEnv", "main", "run"]

log = logging.getLogger("supersvg.vectorizer.worker")

#: Shortest gap between two progress reports (stage changes are always sent).
REPORT_INTERVAL_S = 0.5


class Reporter:
    """Sends ReportProgress calls (when a scheduler address is set) and remembers a cancel."""

    def __init__(self, job: WorkerEnv) -> None:
        self.job = job
        self.cancelled = threading.Event()
        self._last_sent = 0.0
        self._last_stage = ""
        self._stub: Any = None
        self._metadata: list[tuple[str, str]] = []
        if job.scheduler_addr:
            import grpc

            from supersvg.api.v1 import scheduler_pb2_grpc as pb_grpc

            self._channel = grpc.insecure_channel(job.scheduler_addr)
            self._stub = pb_grpc.SchedulerServiceStub(self._channel)

    def _send(self, timeout: float = 10.0, **fields: Any) -> None:
        if self._stub is None:
            return
        import grpc

        from supersvg.api.v1 import scheduler_pb2 as pb
        from supersvg.common.tracing import inject_context

        req = pb.ReportProgressRequest(
            job_id=self.job.job_id,
            attempt=self.job.attempt,
            worker_token=self.job.worker_token,
            **fields,
        )
        try:
            resp = self._stub.ReportProgress(
                req, timeout=timeout, metadata=list(inject_context().items())
            )
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
            if code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND):
                # Our attempt was superseded or the job is gone: stop working on it.
                log.warning("scheduler rejected this attempt; stopping", extra={"code": str(code)})
                self.cancelled.set()
            else:
                log.warning("progress report failed", extra={"code": str(code)})
            return
        if resp.cancel_requested:
            self.cancelled.set()

    def progress(self, stage: str, percent: float) -> None:
        now = time.monotonic()
        if stage == self._last_stage and now - self._last_sent < REPORT_INTERVAL_S:
            return
        self._last_stage, self._last_sent = stage, now
        self._send(timeout=5.0, progress=int(min(max(percent, 0), 99)), stage=stage)

    def final_result(self, result: dict[str, Any]) -> bool:
        """Send the result; True when the scheduler acknowledged it (or there is none)."""
        if self._stub is None:
            return True
        msg = result_to_proto(result)
        return self._send_final(result=msg, progress=100, stage="completed")

    def final_error(self, code: str, message: str) -> bool:
        if self._stub is None:
            return True
        from supersvg.api.v1 import scheduler_pb2 as pb

        return self._send_final(error=pb.JobError(code=code, message=message), stage="failed")

    def _send_final(self, **fields: Any) -> bool:
        import grpc

        from supersvg.api.v1 import scheduler_pb2 as pb

        # Retry a few times: the scheduler may be restarting. If it never answers, the
        # exit code (and result.json) still tell the executor how the attempt ended.
        for delay in (0.0, 0.5, 1.0, 2.0, 4.0):
            time.sleep(delay)
            try:
                self._stub.ReportProgress(
                    pb.ReportProgressRequest(
                        job_id=self.job.job_id,
                        attempt=self.job.attempt,
                        worker_token=self.job.worker_token,
                        **fields,
                    ),
                    timeout=10.0,
                )
                return True
            except grpc.RpcError as exc:
                if exc.code() in (  # type: ignore[attr-defined]
                    grpc.StatusCode.PERMISSION_DENIED,
                    grpc.StatusCode.NOT_FOUND,
                ):
                    return False
        return False


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def run(job: WorkerEnv, reporter: Reporter) -> int:
    """One attempt; returns the exit code."""
    from supersvg.common.storage import ArtifactNotFoundError, create_store
    from supersvg.vectorizer import Cancelled, InvalidImageError, VectorizeConfig, Vectorizer

    store = create_store()
    try:
        cfg = job.worker_config()
    except ValidationError as exc:
        reporter.final_error("INVALID_CONFIG", config_error_message(exc))
        return ExitCode.INVALID_INPUT
    vcfg = VectorizeConfig(
        max_paths=cfg.max_paths,
        max_colors=cfg.max_colors,
        gradients=cfg.gradients,
        iterations=cfg.num_iterations,
        preset=cfg.preset,
        seed=cfg.seed,
        device=_resolve_device(job.device),
    )
    try:
        data = store.get(job.input_key)
    except ArtifactNotFoundError:
        reporter.final_error("INVALID_IMAGE", f"input {job.input_key} is missing")
        return ExitCode.INVALID_INPUT
    reporter.progress("load", 0)
    started = time.perf_counter()
    try:
        res = Vectorizer(vcfg).vectorize(
            data, progress=reporter.progress, should_cancel=reporter.cancelled.is_set
        )
    except InvalidImageError as exc:
        log.info("invalid input", extra={"code": exc.code})
        reporter.final_error("INVALID_IMAGE", f"{exc.code}: {exc.message}")
        return ExitCode.INVALID_INPUT
    except Cancelled:
        log.info("cancelled")
        return ExitCode.CANCELLED
    if reporter.cancelled.is_set():
        return ExitCode.CANCELLED
    seconds = time.perf_counter() - started
    prefix = job.output_prefix
    svg_bytes = res.svg.encode()
    store.put(prefix + "output.svg", svg_bytes, "image/svg+xml")
    store.put(prefix + "preview.png", res.preview_png, "image/png")
    metrics = {
        "num_paths": int(res.num_paths),
        "duration_sec": round(float(res.metrics.get("seconds", seconds)), 3),
        "psnr": float(res.metrics.get("psnr", 0.0)),
        "ssim": float(res.metrics.get("ssim", 0.0)),
        "svg_bytes": len(svg_bytes),
    }
    result = {
        "svg_key": prefix + "output.svg",
        "preview_png_key": prefix + "preview.png",
        "result_json_key": prefix + "result.json",
        "metrics": metrics,
    }
    document = {
        "job_id": job.job_id,
        "attempt": job.attempt,
        **result,
        "details": json.loads(res.to_json()),
    }
    # result.json goes last: its presence marks a complete result.
    store.put(prefix + "result.json", json.dumps(document, indent=2).encode(), "application/json")
    if not reporter.final_result(result) and reporter.cancelled.is_set():
        return ExitCode.CANCELLED
    _write_termination_message(metrics)
    log.info("completed", extra={"num_paths": metrics["num_paths"], "seconds": seconds})
    return ExitCode.OK


def _write_termination_message(metrics: dict[str, Any]) -> None:
    """Leave the metrics in the container's termination message (the operator shows
    ``numPaths`` in the VectorizeJob's status). Kubernetes creates the file in every
    container; elsewhere it does not exist and nothing is written."""
    path = os.environ.get("SUPERSVG_TERMINATION_LOG", "/dev/termination-log")
    if not os.path.isfile(path):
        return
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"num_paths": metrics["num_paths"], "metrics": metrics}, fh)
    except OSError as exc:  # a read-only or full filesystem must not fail a finished job
        log.warning("could not write the termination message", extra={"error": str(exc)})


def main(argv: list[str] | None = None) -> int:
    """Entry point; takes no arguments (everything comes from the environment)."""
    del argv
    from opentelemetry import trace

    from supersvg.common.logging import configure_logging
    from supersvg.common.tracing import configure_tracing, extract_context

    configure_logging(
        "worker",
        os.environ.get("SUPERSVG_LOG_LEVEL", "INFO"),
        os.environ.get("SUPERSVG_LOG_FORMAT", "json"),
    )
    configure_tracing("supersvg-worker", os.environ.get("SUPERSVG_OTLP_ENDPOINT") or None)
    try:
        job = WorkerEnv.from_env()
    except WorkerEnvError as exc:
        log.error("bad worker environment", extra={"reason": str(exc)})
        return ExitCode.INVALID_INPUT
    reporter = Reporter(job)

    def on_term(signum: int, frame: FrameType | None) -> None:
        # Cooperative first: the vectorizer polls should_cancel; the executor kills later.
        reporter.cancelled.set()

    signal.signal(signal.SIGTERM, on_term)
    ctx = extract_context({"traceparent": job.traceparent} if job.traceparent else {})
    tracer = trace.get_tracer("supersvg.vectorizer.worker")
    with tracer.start_as_current_span(
        "worker.run", context=ctx, attributes={"job.id": job.job_id, "job.attempt": job.attempt}
    ):
        log.info("worker starting", extra={"job_id": job.job_id, "attempt": job.attempt})
        try:
            code = run(job, reporter)
        except Exception:
            log.exception("worker failed", extra={"job_id": job.job_id})
            code = ExitCode.FAILED
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
