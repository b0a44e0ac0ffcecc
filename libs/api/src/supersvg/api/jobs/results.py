"""A job's result and metrics: the dict the store and ``result.json`` hold <-> the proto."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from supersvg.api.v1 import scheduler_pb2 as pb

__all__ = ["METRIC_FIELDS", "result_from_proto", "result_to_proto"]

#: ``JobMetrics`` fields and their types; missing values read as zero (or "").
#: ``model``/``model_sha256`` name the learned model a job ran with ("" = analytic).
METRIC_FIELDS: dict[str, type[int] | type[float] | type[str]] = {
    "num_paths": int,
    "duration_sec": float,
    "psnr": float,
    "ssim": float,
    "svg_bytes": int,
    "model": str,
    "model_sha256": str,
}
_KEYS = ("svg_key", "preview_png_key", "result_json_key")


def result_to_proto(result: Mapping[str, Any]) -> pb.JobResult:
    """``{svg_key, preview_png_key, result_json_key, metrics: {...}}`` as a ``JobResult``."""
    m = result.get("metrics") or {}
    values: dict[str, Any] = {k: kind(m.get(k) or kind()) for k, kind in METRIC_FIELDS.items()}
    metrics = pb.JobMetrics(**values)
    return pb.JobResult(**{k: str(result.get(k, "")) for k in _KEYS}, metrics=metrics)


def result_from_proto(msg: pb.JobResult) -> dict[str, Any]:
    """The inverse of :func:`result_to_proto`."""
    return {
        **{k: getattr(msg, k) for k in _KEYS},
        "metrics": {k: getattr(msg.metrics, k) for k in METRIC_FIELDS},
    }
