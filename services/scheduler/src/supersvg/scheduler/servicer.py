"""gRPC ``SchedulerService``: protobuf in, :class:`Scheduler` calls, protobuf out."""

from __future__ import annotations

import contextvars
import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.timestamp_pb2 import Timestamp
from opentelemetry import trace

from supersvg.api.jobs import JobConfig, result_from_proto, result_to_proto
from supersvg.api.jobs.metadata import ERROR_CODE_KEY, REQUEST_ID_KEY
from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.api.v1 import scheduler_pb2_grpc as pb_grpc
from supersvg.common.grpc import metadata_to_carrier
from supersvg.common.tracing import current_trace_id, extract_context, traceparent
from supersvg.scheduler.core import PRIORITIES, Refusal, Scheduler, SchedulerError, SubmitRequest
from supersvg.scheduler.store import JobRecord

__all__ = [
    "ERROR_CODE_KEY",
    "STATUS_OF_REFUSAL",
    "RequestIdLogFilter",
    "SchedulerServicer",
    "job_to_pb",
]

#: The gateway's X-Request-Id of the RPC being served (gRPC metadata ``x-request-id``).
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")


class RequestIdLogFilter(logging.Filter):
    """Adds the calling request's id to log records made while serving an RPC."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id_var.get()
        if rid and not hasattr(record, "request_id"):
            record.request_id = rid
        return True


tracer = trace.get_tracer("supersvg.scheduler")


def _ts(value: float | None) -> Timestamp | None:
    if value is None:
        return None
    ts = Timestamp()
    ts.FromNanoseconds(int(value * 1e9))
    return ts


def job_to_pb(rec: JobRecord) -> pb.Job:
    config = JobConfig.from_record(
        rec.config, PRIORITIES.get(rec.priority, "normal"), rec.callback_url
    )
    job = pb.Job(
        job_id=rec.job_id,
        tenant_id=rec.tenant_id,
        state=pb.JobState.Value(f"JOB_STATE_{rec.state.upper()}"),
        progress=rec.progress,
        stage=rec.stage,
        config=config.to_proto(),
        input_key=rec.input_key,
        attempts=rec.attempts,
        trace_id=rec.trace_id,
    )
    for name in ("created_at", "started_at", "finished_at"):
        ts = _ts(getattr(rec, name))
        if ts is not None:
            getattr(job, name).CopyFrom(ts)
    if rec.state == "failed":
        job.error.CopyFrom(pb.JobError(code=rec.error_code or "", message=rec.error_message or ""))
    if rec.state == "completed" and rec.result:
        job.result.CopyFrom(result_to_proto(rec.result))
    return job


#: The one place where the scheduler's refusals become gRPC status codes.
STATUS_OF_REFUSAL = {
    Refusal.INVALID: grpc.StatusCode.INVALID_ARGUMENT,
    Refusal.NOT_FOUND: grpc.StatusCode.NOT_FOUND,
    Refusal.WRONG_STATE: grpc.StatusCode.FAILED_PRECONDITION,
    Refusal.CONFLICT: grpc.StatusCode.ALREADY_EXISTS,
    Refusal.EXHAUSTED: grpc.StatusCode.RESOURCE_EXHAUSTED,
    Refusal.UNAUTHENTICATED: grpc.StatusCode.UNAUTHENTICATED,
    Refusal.FORBIDDEN: grpc.StatusCode.PERMISSION_DENIED,
}


async def _abort(context: grpc.aio.ServicerContext, err: SchedulerError) -> None:
    context.set_trailing_metadata(((ERROR_CODE_KEY, err.code),))
    await context.abort(STATUS_OF_REFUSAL[err.kind], err.message)


class SchedulerServicer(pb_grpc.SchedulerServiceServicer):
    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler

    def _span(self, name: str, context: grpc.aio.ServicerContext) -> Any:
        carrier = metadata_to_carrier(context.invocation_metadata())
        request_id_var.set(carrier.get(REQUEST_ID_KEY, "")[:128])  # task-local per RPC
        parent = extract_context(carrier)
        return tracer.start_as_current_span(f"SchedulerService/{name}", context=parent)

    async def SubmitJob(
        self, request: pb.SubmitJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.SubmitJobResponse:
        with self._span("SubmitJob", context) as span:
            span.set_attribute("job.id", request.job_id)
            c = request.config
            req = SubmitRequest(
                tenant_id=request.tenant_id,
                job_id=request.job_id,
                input_key=request.input_key,
                max_paths=c.max_paths,
                num_iterations=c.num_iterations,
                output_format=c.output_format or "svg",
                priority=int(c.priority) or 2,
                callback_url=c.callback_url,
                preset=c.preset or "auto",
                seed=c.seed,
                max_colors=c.max_colors if c.HasField("max_colors") else None,
                gradients=c.gradients or "auto",
                idempotency_key=request.idempotency_key,
                request_hash=request.request_hash,
            )
            try:
                rec, dedup = await self.scheduler.submit(
                    req, current_trace_id() or "", traceparent() or ""
                )
            except SchedulerError as err:
                await _abort(context, err)
                raise
            return pb.SubmitJobResponse(job=job_to_pb(rec), deduplicated=dedup)

    async def GetJob(self, request: pb.GetJobRequest, context: grpc.aio.ServicerContext) -> pb.Job:
        try:
            return job_to_pb(await self.scheduler.get(request.tenant_id, request.job_id))
        except SchedulerError as err:
            await _abort(context, err)
            raise

    async def ListJobs(
        self, request: pb.ListJobsRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListJobsResponse:
        state = None
        if request.state:
            state = pb.JobState.Name(request.state).removeprefix("JOB_STATE_").lower()
        try:
            rows, token = await self.scheduler.list(
                request.tenant_id, request.page_size, request.page_token, state
            )
        except SchedulerError as err:
            await _abort(context, err)
            raise
        return pb.ListJobsResponse(jobs=[job_to_pb(r) for r in rows], next_page_token=token)

    async def CancelJob(
        self, request: pb.CancelJobRequest, context: grpc.aio.ServicerContext
    ) -> pb.Job:
        with self._span("CancelJob", context):
            try:
                return job_to_pb(await self.scheduler.cancel(request.tenant_id, request.job_id))
            except SchedulerError as err:
                await _abort(context, err)
                raise

    async def WatchJob(
        self, request: pb.WatchJobRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[pb.Job]:
        try:
            async for rec in self.scheduler.watch(request.tenant_id, request.job_id):
                yield job_to_pb(rec)
        except SchedulerError as err:
            await _abort(context, err)
            raise

    async def ReportProgress(
        self, request: pb.ReportProgressRequest, context: grpc.aio.ServicerContext
    ) -> pb.ReportProgressResponse:
        result = result_from_proto(request.result) if request.HasField("result") else None
        error = (request.error.code, request.error.message) if request.HasField("error") else None
        try:
            stop = await self.scheduler.report_progress(
                job_id=request.job_id,
                attempt=request.attempt,
                worker_token=request.worker_token,
                progress=request.progress,
                stage=request.stage,
                result=result,
                error=error,
            )
        except SchedulerError as err:
            await _abort(context, err)
            raise
        return pb.ReportProgressResponse(cancel_requested=stop)

    async def Authenticate(
        self, request: pb.AuthenticateRequest, context: grpc.aio.ServicerContext
    ) -> pb.Tenant:
        try:
            t = await self.scheduler.authenticate(request.token)
        except SchedulerError as err:
            await _abort(context, err)
            raise
        return pb.Tenant(
            tenant_id=t.tenant_id,
            rate_limit_per_minute=t.rate_limit_per_minute,
            max_active_jobs=t.max_active_jobs,
        )
