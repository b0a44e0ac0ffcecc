"""Reading and cancelling jobs: list, status, result, cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request

from supersvg.api.jobs import METRIC_FIELDS
from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.common.ids import is_job_id
from supersvg.gateway.dependencies import SchedulerDep, StateDep, TenantDep
from supersvg.gateway.errors import ApiError
from supersvg.gateway.models import CancelResponse, JobList, JobStatus, ResultResponse
from supersvg.gateway.openapi import JOB_ERRORS, errors
from supersvg.gateway.signing import signed_path
from supersvg.gateway.views import job_status, state_name

__all__ = ["router"]

_STATUS_PATTERN = "^(queued|running|completed|failed|cancelling|cancelled|expired)$"

router = APIRouter(tags=["jobs"])


def _job_id(job_id: str) -> str:
    if not is_job_id(job_id):
        raise ApiError(404, "JOB_NOT_FOUND", "job not found")
    return job_id


@router.get("/api/v1/vectorize/jobs", response_model=JobList, responses=JOB_ERRORS)
async def list_jobs(
    tenant: TenantDep,
    scheduler: SchedulerDep,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    page_token: Annotated[str, Query(max_length=200)] = "",
    status: Annotated[str | None, Query(pattern=_STATUS_PATTERN)] = None,
) -> JobList:
    state = pb.JobState.Value(f"JOB_STATE_{status.upper()}") if status else None
    resp = await scheduler.call(
        "ListJobs",
        pb.ListJobsRequest(
            tenant_id=tenant.tenant_id, page_size=page_size, page_token=page_token, state=state
        ),
    )
    return JobList(
        jobs=[job_status(j) for j in resp.jobs], next_page_token=resp.next_page_token or None
    )


@router.get("/api/v1/vectorize/jobs/{job_id}", response_model=JobStatus, responses=JOB_ERRORS)
async def get_job(job_id: str, tenant: TenantDep, scheduler: SchedulerDep) -> JobStatus:
    job = await scheduler.call(
        "GetJob", pb.GetJobRequest(tenant_id=tenant.tenant_id, job_id=_job_id(job_id))
    )
    return job_status(job)


@router.get(
    "/api/v1/vectorize/jobs/{job_id}/result",
    response_model=ResultResponse,
    responses=errors(400, 401, 404, 409, 429, 500, 503),
)
async def get_result(
    request: Request, job_id: str, tenant: TenantDep, scheduler: SchedulerDep, state: StateDep
) -> ResultResponse:
    job = await scheduler.call(
        "GetJob", pb.GetJobRequest(tenant_id=tenant.tenant_id, job_id=_job_id(job_id))
    )
    status = state_name(job)
    if status != "completed" or not job.HasField("result"):
        code = "JOB_EXPIRED" if status == "expired" else "JOB_NOT_COMPLETED"
        raise ApiError(
            409,
            code,
            f"the job is {status}; a result exists only once it is completed",
            {"status": status},
        )
    ttl = state.settings.result_url_ttl_seconds
    svg_url, expires = _artifact_url(request, state, job.result.svg_key, ttl)
    png_url, _ = _artifact_url(request, state, job.result.preview_png_key, ttl)
    metrics = {k: getattr(job.result.metrics, k) for k in METRIC_FIELDS}
    return ResultResponse.model_validate(
        {
            "job_id": job.job_id,
            "status": "completed",
            "result": {
                "svg_url": svg_url,
                "preview_png_url": png_url,
                "metrics": metrics,
                "expires_at": datetime.fromtimestamp(expires, UTC)
                .isoformat()
                .replace("+00:00", "Z"),
            },
        }
    )


def _artifact_url(request: Request, state: StateDep, key: str, ttl: int) -> tuple[str, int]:
    """A presigned store URL, or a link to this gateway signed with its key."""
    url = state.artifacts.presigned_get_url(key, timedelta(seconds=ttl))
    if url is not None:
        return url, int(datetime.now(UTC).timestamp()) + ttl
    path, expires = signed_path(state.signing_key, key, ttl)
    base = state.settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return base + path, expires


@router.post(
    "/api/v1/vectorize/jobs/{job_id}/cancel",
    response_model=CancelResponse,
    responses=errors(400, 401, 404, 409, 429, 500, 503),
)
async def cancel(job_id: str, tenant: TenantDep, scheduler: SchedulerDep) -> CancelResponse:
    job = await scheduler.call(
        "CancelJob",
        pb.CancelJobRequest(tenant_id=tenant.tenant_id, job_id=_job_id(job_id)),
    )
    return CancelResponse(job_id=job.job_id, status=state_name(job))  # type: ignore[arg-type]
