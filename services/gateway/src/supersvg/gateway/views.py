"""The scheduler's protobuf jobs as the public API's models."""

from __future__ import annotations

from datetime import UTC

from google.protobuf.timestamp_pb2 import Timestamp

from supersvg.api.jobs import priority_from_proto
from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.gateway.models import JobStatus

__all__ = ["iso", "job_status", "state_name"]


def iso(ts: Timestamp, present: bool = True) -> str | None:
    if not present:
        return None
    dt = ts.ToDatetime(tzinfo=UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def state_name(job: pb.Job) -> str:
    return str(pb.JobState.Name(job.state).removeprefix("JOB_STATE_").lower())


def job_status(job: pb.Job) -> JobStatus:
    return JobStatus(
        job_id=job.job_id,
        status=state_name(job),  # type: ignore[arg-type]
        progress=job.progress,
        stage=job.stage,
        created_at=iso(job.created_at) or "",
        started_at=iso(job.started_at, job.HasField("started_at")),
        finished_at=iso(job.finished_at, job.HasField("finished_at")),
        error=(
            {"code": job.error.code, "message": job.error.message}  # type: ignore[arg-type]
            if job.HasField("error")
            else None
        ),
        attempts=job.attempts,
        priority=priority_from_proto(job.config.priority),
        trace_id=job.trace_id,
    )
