"""Request and response models of the public API. The ``config`` form field is the job
contract's :class:`~supersvg.api.jobs.JobConfig` (one definition for every component)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from supersvg.api.jobs import JobConfig

__all__ = [
    "CancelResponse",
    "HealthResponse",
    "JobConfig",
    "JobError",
    "JobList",
    "JobMetrics",
    "JobResult",
    "JobStatus",
    "ResultResponse",
    "SubmitResponse",
]

Status = Literal["queued", "running", "completed", "failed", "cancelling", "cancelled", "expired"]


class HealthResponse(BaseModel):
    status: str
    version: str


class SubmitResponse(BaseModel):
    job_id: str
    status: Status
    created_at: str


class JobError(BaseModel):
    code: str
    message: str


class JobStatus(BaseModel):
    job_id: str
    status: Status
    progress: int
    stage: str
    created_at: str
    started_at: str | None
    finished_at: str | None
    error: JobError | None
    attempts: int
    priority: str
    trace_id: str


class JobList(BaseModel):
    jobs: list[JobStatus]
    next_page_token: str | None


class JobMetrics(BaseModel):
    num_paths: int
    duration_sec: float
    psnr: float
    ssim: float
    svg_bytes: int
    #: The learned model the job ran with and its checkpoint's sha256; "" = analytic.
    model: str = ""
    model_sha256: str = ""


class JobResult(BaseModel):
    svg_url: str
    preview_png_url: str
    metrics: JobMetrics
    expires_at: str


class ResultResponse(BaseModel):
    job_id: str
    status: Status
    result: JobResult


class CancelResponse(BaseModel):
    job_id: str
    status: Status


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: dict[str, object]


class ErrorResponse(BaseModel):
    """The error model of every non-2xx answer."""

    error: ErrorDetail
