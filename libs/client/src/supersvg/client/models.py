"""Plain data returned by the client: jobs, results and pages of jobs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import datetime
from typing import Any

__all__ = ["TERMINAL_STATUSES", "Job", "JobResult", "parse_time"]

#: Statuses after which a job never changes again.
TERMINAL_STATUSES = frozenset({"completed", "failed", "cancelled", "expired"})


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp from the API (``...Z`` or with an offset), or ``None``."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value
    text = str(value)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text)


@dataclasses.dataclass(frozen=True)
class Job:
    """A job as the status endpoint describes it; ``raw`` keeps every field the server sent."""

    job_id: str
    status: str
    progress: float = 0.0
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    error: dict[str, Any] | None = None
    #: What the worker is doing now (e.g. ``superpixels``, ``refine``), when the server says.
    stage: str | None = None
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @property
    def done(self) -> bool:
        """True once the job reached a final status (completed, failed, cancelled, expired)."""
        return self.status in TERMINAL_STATUSES

    @property
    def succeeded(self) -> bool:
        return self.status == "completed"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        if not isinstance(data, Mapping) or "job_id" not in data or "status" not in data:
            raise ValueError(f"not a job description: {data!r}")
        error = data.get("error")
        if error is not None and not isinstance(error, dict):
            error = {"message": str(error)}
        progress = data.get("progress")
        return cls(
            job_id=str(data["job_id"]),
            status=str(data["status"]),
            progress=float(progress) if progress is not None else 0.0,
            created_at=parse_time(data.get("created_at")),
            started_at=parse_time(data.get("started_at")),
            finished_at=parse_time(data.get("finished_at")),
            error=error,
            stage=str(data["stage"]) if data.get("stage") else None,
            raw=dict(data),
        )


@dataclasses.dataclass(frozen=True)
class JobResult:
    """The result of a completed job: where to fetch the SVG and preview, and its metrics."""

    job_id: str
    status: str
    svg_url: str
    preview_png_url: str | None
    metrics: dict[str, Any]
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> JobResult:
        result = data.get("result") if isinstance(data, Mapping) else None
        if not isinstance(result, Mapping) or not result.get("svg_url"):
            raise ValueError(f"not a job result: {data!r}")
        return cls(
            job_id=str(data["job_id"]),
            status=str(data.get("status", "completed")),
            svg_url=str(result["svg_url"]),
            preview_png_url=(
                str(result["preview_png_url"]) if result.get("preview_png_url") else None
            ),
            metrics=dict(result.get("metrics") or {}),
            raw=dict(data),
        )
