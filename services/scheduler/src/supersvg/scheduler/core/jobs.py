"""Jobs as the API sees them: submit (validation, idempotency, quotas), get, list,
cancel and watch."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

from pydantic import ValidationError

from supersvg.api.jobs import JobConfig, config_error_message
from supersvg.common.ids import is_job_id
from supersvg.scheduler.core.base import PRIORITIES, log
from supersvg.scheduler.core.dispatch import Dispatch
from supersvg.scheduler.core.errors import Refusal, SchedulerError
from supersvg.scheduler.store import ACTIVE_STATES, DuplicateIdempotencyKeyError, JobRecord

__all__ = ["Jobs", "SubmitRequest"]


@dataclass(frozen=True)
class SubmitRequest:
    """A submit as the servicer received it; the config fields are checked against
    :class:`JobConfig` by :meth:`Scheduler.submit` (``INVALID_CONFIG``)."""

    tenant_id: str
    job_id: str
    input_key: str
    max_paths: int
    num_iterations: int
    output_format: str = "svg"
    priority: int = 2
    callback_url: str = ""
    preset: str = "auto"
    seed: int = 0
    max_colors: int | None = None
    gradients: str = "auto"
    idempotency_key: str = ""
    request_hash: str = ""

    def job_config(self) -> JobConfig:
        """Raises pydantic.ValidationError when a field breaks the contract."""
        return JobConfig.model_validate(
            {
                "max_paths": self.max_paths,
                "max_colors": self.max_colors,
                "gradients": self.gradients,
                "num_iterations": self.num_iterations,
                "output_format": self.output_format,
                "priority": PRIORITIES.get(self.priority, "normal"),
                "callback_url": self.callback_url or None,
                "preset": self.preset,
                "seed": self.seed,
            }
        )


class Jobs(Dispatch):
    """The public coroutines the servicer calls for the job API."""

    async def submit(
        self, req: SubmitRequest, trace_id: str, parent: str
    ) -> tuple[JobRecord, bool]:
        if not is_job_id(req.job_id):
            raise SchedulerError(Refusal.INVALID, "INVALID_ARGUMENT", "job_id must be job_<ULID>")
        if req.input_key != f"jobs/{req.job_id}/input":
            raise SchedulerError(
                Refusal.INVALID,
                "INVALID_ARGUMENT",
                "input_key must be jobs/{job_id}/input",
            )
        config = self._validate_config(req)
        if req.idempotency_key:
            existing = await self.store.find_idempotent(req.tenant_id, req.idempotency_key)
            if existing is not None:
                return self._replay(existing, req), True
        if req.callback_url:
            await self._check_callback(req.callback_url)
        if await self.store.count_jobs(("queued",)) >= self.settings.max_queue_size:
            raise SchedulerError(
                Refusal.EXHAUSTED,
                "CAPACITY_EXHAUSTED",
                "the job queue is full; retry later",
            )
        tenant = await self.store.get_tenant(req.tenant_id)
        limit = (tenant.max_active_jobs if tenant else 0) or self.settings.default_max_active_jobs
        if await self.store.count_jobs(ACTIVE_STATES, req.tenant_id) >= limit:
            raise SchedulerError(
                Refusal.EXHAUSTED,
                "QUOTA_EXCEEDED",
                f"tenant has {limit} active jobs, the most allowed",
            )
        now = time.time()
        rec = JobRecord(
            job_id=req.job_id,
            tenant_id=req.tenant_id,
            state="queued",
            priority=req.priority if req.priority in PRIORITIES else 2,
            config=config.worker_config().model_dump(mode="json"),
            input_key=req.input_key,
            created_at=now,
            updated_at=now,
            stage="queued",
            trace_id=trace_id,
            traceparent=parent,
            idempotency_key=req.idempotency_key or None,
            request_hash=req.request_hash,
            callback_url=req.callback_url,
        )
        try:
            await self.store.insert_job(rec)
        except DuplicateIdempotencyKeyError as dup:
            return self._replay(dup.existing, req), True
        log.info("job queued", extra={"job_id": rec.job_id, "tenant_id": rec.tenant_id})
        self._notify(rec)
        self._wake.set()
        return rec, False

    def _replay(self, existing: JobRecord, req: SubmitRequest) -> JobRecord:
        if existing.request_hash != req.request_hash:
            raise SchedulerError(
                Refusal.CONFLICT,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used with a different request",
            )
        return existing

    def _validate_config(self, req: SubmitRequest) -> JobConfig:
        try:
            return req.job_config()
        except ValidationError as exc:
            raise SchedulerError(
                Refusal.INVALID, "INVALID_CONFIG", config_error_message(exc)
            ) from None

    async def get(self, tenant_id: str, job_id: str) -> JobRecord:
        rec = await self.store.get_job(job_id)
        if rec is None or rec.tenant_id != tenant_id:
            # Another tenant's job looks exactly like a missing one.
            raise SchedulerError(Refusal.NOT_FOUND, "JOB_NOT_FOUND", "job not found")
        return rec

    async def list(
        self, tenant_id: str, page_size: int, page_token: str, state: str | None
    ) -> tuple[list[JobRecord], str]:
        size = 20 if page_size <= 0 else min(page_size, 100)
        before = None
        if page_token:
            try:
                created, _, job_id = bytes.fromhex(page_token).decode().partition("|")
                before = (float(created), job_id)
            except ValueError:
                raise SchedulerError(
                    Refusal.INVALID, "INVALID_ARGUMENT", "invalid page_token"
                ) from None
        rows = await self.store.list_jobs(tenant_id, size + 1, state, before)
        token = ""
        if len(rows) > size:
            rows = rows[:size]
            last = rows[-1]
            token = f"{last.created_at!r}|{last.job_id}".encode().hex()
        return rows, token

    async def cancel(self, tenant_id: str, job_id: str) -> JobRecord:
        rec = await self.get(tenant_id, job_id)
        if rec.state == "queued":
            done = await self._finish(rec, "cancelled", ("queued",), stage="cancelled")
            if done is not None:
                return done
            rec = await self.get(tenant_id, job_id)  # raced with dispatch: now running
        if rec.state == "running":
            upd = await self.store.update_job(
                job_id, ("running",), state="cancelling", cancel_requested=True
            )
            if upd is not None:
                self._notify(upd)
                log.info("cancel requested", extra={"job_id": job_id})
                if self.leading:  # else the leader's cancel sweep stops the attempt
                    self._stop_attempt(job_id, upd.attempts)
                return upd
            rec = await self.get(tenant_id, job_id)
        if rec.state in ("cancelling", "cancelled"):
            return rec
        raise SchedulerError(
            Refusal.WRONG_STATE,
            "INVALID_STATE",
            f"a {rec.state} job cannot be cancelled",
        )

    async def watch(self, tenant_id: str, job_id: str) -> AsyncIterator[JobRecord]:
        rec = await self.get(tenant_id, job_id)
        queue: asyncio.Queue[JobRecord] = asyncio.Queue()
        self._watchers.setdefault(job_id, set()).add(queue)
        try:
            yield rec
            last = (rec.state, rec.progress, rec.stage, rec.updated_at)
            while not rec.terminal:
                try:
                    rec = await asyncio.wait_for(queue.get(), 5.0)
                except TimeoutError:
                    # Another replica may have changed it: re-read now and then.
                    rec = await self.get(tenant_id, job_id)
                now = (rec.state, rec.progress, rec.stage, rec.updated_at)
                if now != last:
                    last = now
                    yield rec
        finally:
            watchers = self._watchers.get(job_id)
            if watchers is not None:
                watchers.discard(queue)
                if not watchers:
                    self._watchers.pop(job_id, None)
