"""One attempt of one job: the worker's work, given its environment, a reporter and a store.

Reads the input and config, runs the vectorizer with progress and cancellation, writes
``output.svg``, ``preview.png`` and ``result.json`` (last), and reports the outcome. The
exit code is an :class:`~supersvg.api.jobs.ExitCode`.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from supersvg.api.jobs import ExitCode, WorkerEnv, config_error_message
from supersvg.common.storage import ArtifactNotFoundError, ArtifactStore
from supersvg.worker.models import ModelUnavailable, fetch_model
from supersvg.worker.reporter import Reporter

__all__ = ["run"]

log = logging.getLogger("supersvg.worker")


def _resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _model_failed(reporter: Reporter, message: str) -> ExitCode:
    log.error("model unavailable", extra={"reason": message})
    reporter.final_error("MODEL_UNAVAILABLE", message)
    return ExitCode.MODEL_UNAVAILABLE


def run(
    job: WorkerEnv,
    reporter: Reporter,
    store: ArtifactStore,
    termination_log: str = "",
    *,
    model_cache_dir: str,
) -> ExitCode:
    """One attempt: read, vectorize, write the artifacts (``result.json`` last), report.
    ``termination_log``: where Kubernetes reads the container's termination message.
    With ``job.model`` the learned coarse stage runs with that checkpoint (fetched into
    ``model_cache_dir``); a model that is missing, corrupt or unloadable fails the job."""
    # Imported here, after logging and tracing are set up (as the worker always did): with
    # torch imported at start-up, workers lingered for seconds after their final report.
    from supersvg.vectorizer import (
        Cancelled,
        CheckpointError,
        InvalidImageError,
        VectorizeConfig,
        Vectorizer,
    )

    try:
        cfg = job.worker_config()
    except ValidationError as exc:
        reporter.final_error("INVALID_CONFIG", config_error_message(exc))
        return ExitCode.INVALID_INPUT
    checkpoint, digest = None, ""
    if job.model is not None:
        reporter.progress("model", 0)
        try:
            path, digest = fetch_model(store, job.model, Path(model_cache_dir))
        except ModelUnavailable as exc:
            return _model_failed(reporter, str(exc))
        checkpoint = str(path)
        log.info("model ready", extra={"model": job.model.name, "sha256": digest})
    vcfg = VectorizeConfig(
        max_paths=cfg.max_paths,
        max_colors=cfg.max_colors,
        gradients=cfg.gradients,
        iterations=cfg.num_iterations,
        preset=cfg.preset,
        seed=cfg.seed,
        device=_resolve_device(job.device),
        checkpoint=checkpoint,
    )
    if vcfg.uses_torch:
        # Imported only then: pydiffvg imports torch (see the vectorizer's import above).
        from pydiffvg.allocator import keep_freed_memory

        keep_freed_memory()  # render steps reuse their memory (pydiffvg.allocator)
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
    except CheckpointError as exc:
        name = job.model.name if job.model else "?"
        return _model_failed(reporter, f"model {name!r} (sha256:{digest}) does not load: {exc}")
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
        "model": job.model.name if job.model else "",
        "model_sha256": digest,
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
    _write_termination_message(termination_log, metrics)
    log.info("completed", extra={"num_paths": metrics["num_paths"], "seconds": seconds})
    return ExitCode.OK


def _write_termination_message(path: str, metrics: dict[str, Any]) -> None:
    """Leave the metrics in the container's termination message (the operator shows
    ``numPaths`` in the VectorizeJob's status). Kubernetes creates the file in every
    container; elsewhere it does not exist and nothing is written."""
    if not path or not os.path.isfile(path):
        return
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump({"num_paths": metrics["num_paths"], "metrics": metrics}, fh)
    except OSError as exc:  # a read-only or full filesystem must not fail a finished job
        log.warning("could not write the termination message", extra={"error": str(exc)})
