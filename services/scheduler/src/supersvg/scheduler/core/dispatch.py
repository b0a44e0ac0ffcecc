"""Dispatch: attempts started on the executor, workers' reports, attempt outcomes
(retry, complete, fail), and recovery after a restart."""

from __future__ import annotations

import asyncio
import hmac
import json
import secrets
import time
from typing import Any

from supersvg.api.jobs import ExitCode, WorkerConfig
from supersvg.common.storage import ArtifactNotFoundError
from supersvg.common.tracing import extract_context, traceparent
from supersvg.scheduler.core.base import PRIORITIES, log, tracer
from supersvg.scheduler.core.callbacks import Callbacks
from supersvg.scheduler.core.errors import Refusal, SchedulerError
from supersvg.scheduler.executors.base import ExecutionOutcome, WorkSpec
from supersvg.scheduler.store import JobRecord

__all__ = ["Dispatch"]

#: Exit codes that fail the job at once: its error code and message when the worker's
#: own report did not arrive.
_PERMANENT: dict[int, tuple[str, str]] = {
    ExitCode.INVALID_INPUT: ("INVALID_IMAGE", "the input is not a usable image"),
    ExitCode.MODEL_UNAVAILABLE: ("MODEL_UNAVAILABLE", "the job's model is missing or corrupt"),
}


class Dispatch(Callbacks):
    """One attempt at a time per job; the executor reports how each ended."""

    #: Waits between tries of an outcome that failed on a store error (about 2 minutes).
    OUTCOME_RETRY_DELAYS = (0.2, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 30.0, 30.0)

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
            raise SchedulerError(Refusal.NOT_FOUND, "JOB_NOT_FOUND", "job not found")
        if not rec.worker_token or not hmac.compare_digest(worker_token, rec.worker_token):
            raise SchedulerError(Refusal.FORBIDDEN, "PERMISSION_DENIED", "invalid worker token")
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

    async def _recover(self) -> None:
        """Resume after a restart or a change of leader: adopt live attempts, requeue the
        rest. Attempts this replica's executor still runs (it led before) are kept."""
        own = self.executor.live_attempts()
        for rec in await self.store.jobs_in_states(("running", "cancelling")):
            if rec.job_id in own:
                continue
            if await self.executor.adopt(self._spec(rec, rec.traceparent)):
                log.info("attempt adopted", extra={"job_id": rec.job_id})
                if rec.state == "cancelling":  # the stop was asked before the restart
                    self._stop_attempt(rec.job_id, rec.attempts)
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
            model=self.settings.model_ref(),
        )

    def capacity(self) -> int | None:
        """Most attempts at once: the executor's bound and ``max_running``, the smaller."""
        bounds = [self.executor.capacity, self.settings.max_running or None]
        known = [b for b in bounds if b is not None]
        return min(known) if known else None

    async def running_attempts(self) -> int:
        """Attempts holding capacity: jobs the database says run (whichever replica started
        them) and this leader's attempts whose worker has not exited yet (a worker reports
        its result a moment before its process or pod ends)."""
        running = await self.store.jobs_in_states(("running", "cancelling"))
        return len({rec.job_id for rec in running} | self.executor.live_attempts())

    def _stop_attempt(self, job_id: str, attempt: int) -> None:
        if (job_id, attempt) not in self._stops:
            self._stops.add((job_id, attempt))
            self._spawn(self.executor.cancel(job_id, attempt, self.settings.cancel_grace_seconds))

    async def _sweep_cancels(self) -> None:
        """Stop attempts whose cancel another replica accepted (only the leader's executor
        watches attempts)."""
        cancelling = await self.store.jobs_in_states(("cancelling",))
        for rec in cancelling:
            self._stop_attempt(rec.job_id, rec.attempts)
        live = {(rec.job_id, rec.attempts) for rec in cancelling}
        self._stops.intersection_update(live)

    async def _dispatch(self) -> None:
        async with self._dispatch_lock:
            await self._sweep_cancels()
            while not self._stopping:
                cap = self.capacity()
                if cap is not None and await self.running_attempts() >= cap:
                    return
                rec = await self.store.claim_next(secrets.token_urlsafe(24), time.time())
                if rec is None:
                    return
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
                        await self._attempt_failed(rec, f"could not start the worker: {exc}")
                log.info("job dispatched", extra={"job_id": rec.job_id, "attempt": rec.attempts})

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
            names: dict[int, str] = {
                ExitCode.OK: "exit_0",
                ExitCode.INVALID_INPUT: "invalid_input",
                ExitCode.CANCELLED: "stopped",
                ExitCode.MODEL_UNAVAILABLE: "model_unavailable",
            }
            kind = names.get(-1 if code is None else code, "crashed")
            self.metrics.attempt_seconds.labels(outcome=kind).observe(
                max(0.0, time.time() - rec.started_at)
            )
        if rec is None or rec.terminal or rec.attempts != outcome.attempt:
            return
        if rec.state == "cancelling":
            await self._finish(rec, "cancelled", ("cancelling",), stage="cancelled")
        elif code == ExitCode.CANCELLED:
            # Stopped without a cancel from us (e.g. a pod evicted with SIGTERM): retry.
            await self._attempt_failed(rec, "worker stopped without a cancel request")
        elif code == ExitCode.OK:
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
        elif code in _PERMANENT:
            # Normally the worker's own report has failed the job already, with the detail.
            error_code, default_message = _PERMANENT[code]
            await self._finish(
                rec,
                "failed",
                ("running",),
                error_code=error_code,
                error_message=outcome.message or default_message,
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
