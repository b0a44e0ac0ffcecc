"""The scheduler's engine: job state machine, dispatch, progress, cancel, retries,
retention and callbacks, over a :class:`JobStore`, an artifact store and an executor.

States (lower-case names of the proto's ``JobState``)::

    queued -> running -> completed | failed
    queued -> cancelled                      (cancel before start)
    running -> cancelling -> cancelled       (cancel of a running job)
    running -> queued                        (worker crashed, attempts left; scheduler restart)
    completed | failed | cancelled -> expired (after retention; artifacts deleted)
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import grpc
from opentelemetry import trace
from pydantic import ValidationError

from supersvg.api.jobs import JobConfig, WorkerConfig, config_error_message, priority_to_proto
from supersvg.common.ids import is_job_id, job_id_time, ulid
from supersvg.common.storage import ArtifactNotFoundError, ArtifactStore
from supersvg.common.tracing import extract_context, traceparent
from supersvg.common.webhooks import signature_headers
from supersvg.scheduler.callbacks import (
    CallbackRefusedError,
    DeliveryError,
    check_url,
    post_json,
    resolve_checked,
)
from supersvg.scheduler.executors.base import ExecutionOutcome, Executor, WorkSpec
from supersvg.scheduler.metrics import SchedulerMetrics
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import (
    ACTIVE_STATES,
    CallbackRecord,
    DuplicateIdempotencyKeyError,
    JobRecord,
    JobStore,
    TenantRecord,
    TokenRecord,
)

__all__ = [
    "PRIORITIES",
    "Scheduler",
    "SchedulerError",
    "SubmitRequest",
    "hash_token",
    "new_api_token",
]

log = logging.getLogger(__name__)
tracer = trace.get_tracer("supersvg.scheduler")

#: Stored priority (the proto's enum value) -> its name.
PRIORITIES = {priority_to_proto(name): name for name in ("low", "normal", "high")}


class SchedulerError(Exception):
    """A request the scheduler refuses: gRPC status plus the error model's code."""

    def __init__(self, status: grpc.StatusCode, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token() -> str:
    return "ssvg_" + secrets.token_urlsafe(32)


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


def _iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class Scheduler:
    """Owns the loops; the gRPC servicer calls the public coroutines."""

    def __init__(
        self,
        settings: SchedulerSettings,
        store: JobStore,
        artifacts: ArtifactStore,
        executor: Executor,
        worker_addr: str,
    ) -> None:
        self.settings = settings
        self.store = store
        self.artifacts = artifacts
        self.executor = executor
        self.worker_addr = worker_addr
        self._active: dict[str, int] = {}
        self._wake = asyncio.Event()
        self._cb_wake = asyncio.Event()
        self._dispatch_lock = asyncio.Lock()
        self._watchers: dict[str, set[asyncio.Queue[JobRecord]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._last_orphan_sweep = 0.0
        self.metrics = SchedulerMetrics()
        executor.set_outcome_handler(self._on_outcome)
        executor.set_phase_handler(self._on_phase)

    # ------------------------------------------------------------------ life cycle
    async def start(self) -> None:
        applied = await self.store.migrate()
        if applied:
            log.info("migrations applied", extra={"versions": applied})
        await asyncio.to_thread(self.artifacts.check)
        await self._bootstrap_token()
        await self.executor.start()
        await self._recover()
        self._tasks = [
            asyncio.create_task(self._loop(self._dispatch, self._wake, 1.0), name="dispatch"),
            asyncio.create_task(
                self._loop(self._deliver_due, self._cb_wake, 0.5), name="callbacks"
            ),
            asyncio.create_task(
                self._loop(self.sweep_retention, None, self.settings.retention_interval_seconds),
                name="retention",
            ),
            asyncio.create_task(self._loop(self._refresh_metrics, None, 2.0), name="metrics"),
        ]
        self._wake.set()

    async def stop(self) -> None:
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.executor.stop()
        for task in list(self._side_tasks):
            task.cancel()

    async def _loop(self, step: Any, wake: asyncio.Event | None, interval: float) -> None:
        while not self._stopping:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("scheduler loop step failed", extra={"step": step.__name__})
            if wake is None:
                await asyncio.sleep(interval)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(wake.wait(), interval)
                wake.clear()

    async def _refresh_metrics(self) -> None:
        await self.metrics.refresh(self.store, len(self._active))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

    async def _bootstrap_token(self) -> None:
        """Ensure the configured bootstrap token exists (idempotent; rotating it adds one)."""
        token, tenant = self.settings.bootstrap_token, self.settings.bootstrap_tenant
        if not token:
            return
        digest = hash_token(token)
        if await self.store.token_by_hash(digest) is not None:
            return
        if await self.store.get_tenant(tenant) is None:
            await self.store.upsert_tenant(TenantRecord(tenant))
        rec = TokenRecord(f"tok_boot_{digest[:8]}", tenant, "bootstrap", time.time())
        await self.store.create_token(rec, digest)
        log.info("bootstrap token created", extra={"tenant_id": tenant, "token_id": rec.token_id})

    async def _recover(self) -> None:
        """Resume after a restart: adopt live attempts, requeue the rest."""
        for rec in await self.store.jobs_in_states(("running", "cancelling")):
            if await self.executor.adopt(self._spec(rec, rec.traceparent)):
                self._active[rec.job_id] = rec.attempts
                log.info("attempt adopted", extra={"job_id": rec.job_id})
                if rec.state == "cancelling":  # the stop was asked before the restart
                    self._spawn(
                        self.executor.cancel(
                            rec.job_id, rec.attempts, self.settings.cancel_grace_seconds
                        )
                    )
                continue
            if rec.state == "cancelling":
                await self._finish(rec, "cancelled", ("cancelling",))
            else:
                upd = await self.store.update_job(
                    rec.job_id, ("running",), state="queued", stage="requeued after restart"
                )
                if upd:
                    log.info("job requeued after restart", extra={"job_id": rec.job_id})
                    self._notify(upd)

    # ------------------------------------------------------------------ API
    async def submit(
        self, req: SubmitRequest, trace_id: str, parent: str
    ) -> tuple[JobRecord, bool]:
        if not is_job_id(req.job_id):
            raise SchedulerError(
                grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", "job_id must be job_<ULID>"
            )
        if req.input_key != f"jobs/{req.job_id}/input":
            raise SchedulerError(
                grpc.StatusCode.INVALID_ARGUMENT,
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
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                "CAPACITY_EXHAUSTED",
                "the job queue is full; retry later",
            )
        tenant = await self.store.get_tenant(req.tenant_id)
        limit = (tenant.max_active_jobs if tenant else 0) or self.settings.default_max_active_jobs
        if await self.store.count_jobs(ACTIVE_STATES, req.tenant_id) >= limit:
            raise SchedulerError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
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
                grpc.StatusCode.ALREADY_EXISTS,
                "IDEMPOTENCY_KEY_REUSED",
                "this Idempotency-Key was used with a different request",
            )
        return existing

    def _validate_config(self, req: SubmitRequest) -> JobConfig:
        try:
            return req.job_config()
        except ValidationError as exc:
            raise SchedulerError(
                grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CONFIG", config_error_message(exc)
            ) from None

    async def _check_callback(self, url: str) -> None:
        if not self.settings.callback_secret:
            raise SchedulerError(
                grpc.StatusCode.INVALID_ARGUMENT,
                "CALLBACKS_DISABLED",
                "callbacks are not configured on this server",
            )
        try:
            target = check_url(url)
            await resolve_checked(target.host, target.port, self.settings.callback_allow_private)
        except (CallbackRefusedError, DeliveryError) as exc:
            raise SchedulerError(
                grpc.StatusCode.INVALID_ARGUMENT, "INVALID_CALLBACK_URL", str(exc)
            ) from None

    async def get(self, tenant_id: str, job_id: str) -> JobRecord:
        rec = await self.store.get_job(job_id)
        if rec is None or rec.tenant_id != tenant_id:
            # Another tenant's job looks exactly like a missing one.
            raise SchedulerError(grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND", "job not found")
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
                    grpc.StatusCode.INVALID_ARGUMENT, "INVALID_ARGUMENT", "invalid page_token"
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
                self._spawn(
                    self.executor.cancel(job_id, upd.attempts, self.settings.cancel_grace_seconds)
                )
                return upd
            rec = await self.get(tenant_id, job_id)
        if rec.state in ("cancelling", "cancelled"):
            return rec
        raise SchedulerError(
            grpc.StatusCode.FAILED_PRECONDITION,
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

    def _notify(self, rec: JobRecord) -> None:
        for queue in self._watchers.get(rec.job_id, ()):
            queue.put_nowait(rec)

    async def authenticate(self, token: str) -> TenantRecord:
        tok = await self.store.token_by_hash(hash_token(token)) if token else None
        if tok is None or tok.revoked_at is not None:
            raise SchedulerError(
                grpc.StatusCode.UNAUTHENTICATED, "UNAUTHENTICATED", "invalid or revoked token"
            )
        tenant = await self.store.get_tenant(tok.tenant_id)
        return tenant or TenantRecord(tenant_id=tok.tenant_id)

    # ------------------------------------------------------------------ worker reports
    async def report_progress(
        self,
        *,
        job_id: str,
        attempt: int,
        worker_token: str,
        progress: int,
        stage: str,
        result: dict[str, Any] | None,
        error: tuple[str, str] | None,
    ) -> bool:
        """Apply a worker's report; returns whether the worker should stop."""
        rec = await self.store.get_job(job_id)
        if rec is None:
            raise SchedulerError(grpc.StatusCode.NOT_FOUND, "JOB_NOT_FOUND", "job not found")
        if not rec.worker_token or not hmac.compare_digest(worker_token, rec.worker_token):
            raise SchedulerError(
                grpc.StatusCode.PERMISSION_DENIED, "PERMISSION_DENIED", "invalid worker token"
            )
        if attempt != rec.attempts or rec.state not in ("running", "cancelling"):
            return True  # a stale attempt: tell it to stop
        if result is not None:
            await self._finish(
                rec,
                "completed",
                ("running", "cancelling"),
                result=result,
                progress=100,
                stage="completed",
            )
            return False
        if error is not None:
            code, message = error
            await self._finish(
                rec,
                "failed",
                ("running", "cancelling"),
                error_code=code or "WORKER_FAILED",
                error_message=message,
                stage="failed",
            )
            return False
        upd = await self.store.update_job(
            job_id,
            ("running", "cancelling"),
            progress=max(rec.progress, min(max(progress, 0), 99)),
            stage=stage[:200],
        )
        if upd is not None:
            self._notify(upd)
            return upd.state == "cancelling"
        return True

    # ------------------------------------------------------------------ dispatch
    def _spec(self, rec: JobRecord, parent: str) -> WorkSpec:
        config = WorkerConfig.from_stored(rec.config)
        return WorkSpec(
            job_id=rec.job_id,
            tenant_id=rec.tenant_id,
            attempt=rec.attempts,
            input_key=rec.input_key,
            output_prefix=f"jobs/{rec.job_id}/",
            config=config,
            priority=PRIORITIES.get(rec.priority, "normal"),
            worker_token=rec.worker_token,
            scheduler_addr=self.worker_addr,
            traceparent=parent,
        )

    async def _dispatch(self) -> None:
        async with self._dispatch_lock:
            while not self._stopping:
                cap = self.executor.capacity
                if cap is not None and len(self._active) >= cap:
                    return
                rec = await self.store.claim_next(secrets.token_urlsafe(24), time.time())
                if rec is None:
                    return
                self._active[rec.job_id] = rec.attempts
                self._notify(rec)
                ctx = extract_context({"traceparent": rec.traceparent} if rec.traceparent else {})
                with tracer.start_as_current_span(
                    "scheduler.dispatch",
                    context=ctx,
                    attributes={"job.id": rec.job_id, "job.attempt": rec.attempts},
                ):
                    spec = self._spec(rec, traceparent() or rec.traceparent)
                    try:
                        await self.executor.launch(spec)
                    except Exception as exc:
                        log.exception("launch failed", extra={"job_id": rec.job_id})
                        self._active.pop(rec.job_id, None)
                        await self._attempt_failed(rec, f"could not start the worker: {exc}")
                log.info("job dispatched", extra={"job_id": rec.job_id, "attempt": rec.attempts})

    #: Waits between tries of an outcome that failed on a store error (about 2 minutes).
    OUTCOME_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 30.0, 30.0)

    async def _on_phase(self, job_id: str, attempt: int, phase: str, message: str) -> None:
        """Mirror an attempt's execution phase (e.g. a pod still Pending) into the job's stage
        until its worker reports progress of its own."""
        rec = await self.store.get_job(job_id)
        if rec is None or rec.attempts != attempt or rec.state != "running" or rec.progress > 0:
            return
        stage = f"{self.executor.name} {phase.lower()}" + (f": {message}" if message else "")
        upd = await self.store.update_job(job_id, ("running",), stage=stage[:200])
        if upd is not None:
            self._notify(upd)

    async def _on_outcome(self, outcome: ExecutionOutcome) -> None:
        if self._active.get(outcome.job_id) == outcome.attempt:
            del self._active[outcome.job_id]
        self._wake.set()
        # The executor reports an outcome once: losing it to a dropped database connection
        # would leave the job 'running' with no worker until the next restart. Every step
        # below is a conditional update, so trying again is safe.
        for delay in (*self.OUTCOME_RETRY_DELAYS, None):
            if self._stopping:
                return
            try:
                await self._apply_outcome(outcome)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                if delay is None:
                    raise
                log.warning(
                    "outcome not recorded yet; retrying",
                    exc_info=True,
                    extra={"job_id": outcome.job_id, "attempt": outcome.attempt},
                )
                await asyncio.sleep(delay)

    async def _apply_outcome(self, outcome: ExecutionOutcome) -> None:
        rec = await self.store.get_job(outcome.job_id)
        code = outcome.exit_code
        if rec is not None and rec.attempts == outcome.attempt and rec.started_at:
            # Observed before the terminal check: a worker's final report usually finishes
            # the job before its process exits.
            names = {0: "exit_0", 2: "invalid_input", 3: "stopped"}
            kind = names.get(-1 if code is None else code, "crashed")
            self.metrics.attempt_seconds.labels(outcome=kind).observe(
                max(0.0, time.time() - rec.started_at)
            )
        if rec is None or rec.terminal or rec.attempts != outcome.attempt:
            return
        if rec.state == "cancelling":
            await self._finish(rec, "cancelled", ("cancelling",), stage="cancelled")
        elif code == 3:
            # Stopped without a cancel from us (e.g. a pod evicted with SIGTERM): retry.
            await self._attempt_failed(rec, "worker stopped without a cancel request")
        elif code == 0:
            result = await self._result_from_artifacts(rec)
            if result is not None:
                await self._finish(
                    rec,
                    "completed",
                    ("running",),
                    result=result,
                    progress=100,
                    stage="completed",
                )
            else:
                await self._attempt_failed(rec, "worker exited without a result")
        elif code == 2:
            await self._finish(
                rec,
                "failed",
                ("running",),
                error_code="INVALID_IMAGE",
                error_message=outcome.message or "the input is not a usable image",
                stage="failed",
            )
        else:
            await self._attempt_failed(rec, outcome.message or f"worker exit code {code}")

    async def _attempt_failed(self, rec: JobRecord, message: str) -> None:
        if rec.attempts < self.settings.max_attempts:
            upd = await self.store.update_job(
                rec.job_id, ("running",), state="queued", stage=f"retrying: {message}"[:200]
            )
            if upd is not None:
                log.warning(
                    "attempt failed; retrying",
                    extra={"job_id": rec.job_id, "attempt": rec.attempts, "reason": message},
                )
                self._notify(upd)
                self._wake.set()
            return
        await self._finish(
            rec,
            "failed",
            ("running",),
            error_code="WORKER_FAILED",
            error_message=f"{message} (after {rec.attempts} attempts)",
            stage="failed",
        )

    async def _result_from_artifacts(self, rec: JobRecord) -> dict[str, Any] | None:
        key = f"jobs/{rec.job_id}/result.json"
        try:
            data = json.loads(await asyncio.to_thread(self.artifacts.get, key))
        except (ArtifactNotFoundError, ValueError):
            return None
        return {
            "svg_key": f"jobs/{rec.job_id}/output.svg",
            "preview_png_key": f"jobs/{rec.job_id}/preview.png",
            "result_json_key": key,
            "metrics": data.get("metrics", {}),
        }

    async def _finish(
        self, rec: JobRecord, state: str, expected: tuple[str, ...], **fields: Any
    ) -> JobRecord | None:
        now = time.time()
        upd = await self.store.update_job(
            rec.job_id, expected, state=state, finished_at=now, **fields
        )
        if upd is None:
            return None
        log.info("job finished", extra={"job_id": upd.job_id, "state": state})
        self._notify(upd)
        if upd.callback_url:
            await self._enqueue_callback(upd, now)
        return upd

    # ------------------------------------------------------------------ callbacks
    def callback_body(self, rec: JobRecord) -> dict[str, Any]:
        error = (
            {"code": rec.error_code, "message": rec.error_message or ""}
            if rec.state == "failed"
            else None
        )
        return {
            "type": f"job.{rec.state}",
            "timestamp": _iso(time.time()),
            "data": {
                "job_id": rec.job_id,
                "status": rec.state,
                "progress": rec.progress,
                "created_at": _iso(rec.created_at),
                "started_at": _iso(rec.started_at),
                "finished_at": _iso(rec.finished_at),
                "error": error,
                "metrics": (rec.result or {}).get("metrics") if rec.state == "completed" else None,
            },
        }

    async def _enqueue_callback(self, rec: JobRecord, now: float) -> None:
        body = json.dumps(self.callback_body(rec), separators=(",", ":"), sort_keys=True)
        await self.store.add_callback(
            CallbackRecord(
                delivery_id="msg_" + ulid(),
                job_id=rec.job_id,
                url=rec.callback_url,
                body=body,
                state="pending",
                next_attempt_at=now,
                created_at=now,
            )
        )
        self._cb_wake.set()

    async def _deliver_due(self) -> None:
        due = await self.store.due_callbacks(time.time())
        if due:
            await asyncio.gather(*(self._deliver(cb) for cb in due))

    async def _deliver(self, cb: CallbackRecord) -> None:
        body = cb.body.encode()
        headers = signature_headers(self.settings.callback_secret, cb.delivery_id, body)
        attempts = cb.attempts + 1
        try:
            await post_json(
                cb.url,
                body,
                headers,
                self.settings.callback_timeout_seconds,
                self.settings.callback_allow_private,
            )
        except CallbackRefusedError as exc:
            self.metrics.callbacks.labels(result="refused").inc()
            log.warning("callback refused", extra={"job_id": cb.job_id, "reason": str(exc)})
            await self.store.update_callback(
                cb.delivery_id, state="refused", attempts=attempts, last_error=str(exc)
            )
            return
        except DeliveryError as exc:
            self.metrics.callbacks.labels(result="failed").inc()
            if attempts >= self.settings.callback_max_attempts:
                state, next_at = "failed", cb.next_attempt_at
            else:
                delay = min(self.settings.callback_backoff_seconds * 2 ** (attempts - 1), 3600.0)
                state, next_at = "pending", time.time() + delay
            log.warning(
                "callback delivery failed",
                extra={"job_id": cb.job_id, "attempt": attempts, "reason": str(exc)},
            )
            await self.store.update_callback(
                cb.delivery_id,
                state=state,
                attempts=attempts,
                next_attempt_at=next_at,
                last_error=str(exc)[:500],
            )
            return
        await self.store.update_callback(
            cb.delivery_id, state="delivered", attempts=attempts, last_error=""
        )
        self.metrics.callbacks.labels(result="delivered").inc()
        log.info("callback delivered", extra={"job_id": cb.job_id, "attempt": attempts})

    # ------------------------------------------------------------------ retention
    async def sweep_retention(self) -> int:
        """Expire finished jobs older than the retention period; drop long-expired rows."""
        now = time.time()
        cutoff = now - self.settings.retention_seconds
        expired = 0
        terminal = ("completed", "failed", "cancelled")
        for rec in await self.store.finished_before(terminal, cutoff):
            await asyncio.to_thread(self.artifacts.delete_prefix, f"jobs/{rec.job_id}/")
            upd = await self.store.update_job(
                rec.job_id, terminal, state="expired", result=None, stage="expired"
            )
            if upd is not None:
                expired += 1
                self._notify(upd)
                log.info("job expired", extra={"job_id": rec.job_id})
        for rec in await self.store.finished_before(
            ("expired",), now - 2 * self.settings.retention_seconds
        ):
            await self.store.delete_job(rec.job_id)
        if now - self._last_orphan_sweep >= self.settings.orphan_grace_seconds:
            self._last_orphan_sweep = now
            await self.sweep_orphans(now)
        return expired

    async def sweep_orphans(self, now: float) -> int:
        """Delete uploads that never became jobs (older than the grace period)."""
        removed = 0
        for name in await asyncio.to_thread(self.artifacts.list_folders, "jobs/"):
            if not is_job_id(name) or now - job_id_time(name) < self.settings.orphan_grace_seconds:
                continue
            if await self.store.get_job(name) is None:
                await asyncio.to_thread(self.artifacts.delete_prefix, f"jobs/{name}/")
                removed += 1
                log.info("orphaned upload deleted", extra={"job_id": name})
        return removed
