"""Callbacks: checking a job's callback URL on submit, queueing the signed notification
when a job ends, and delivering due notifications with retries."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from supersvg.common.backoff import Backoff
from supersvg.common.ids import ulid
from supersvg.common.webhooks import signature_headers
from supersvg.scheduler.callbacks import (
    CallbackRefusedError,
    DeliveryError,
    check_url,
    post_json,
    resolve_checked,
)
from supersvg.scheduler.core.auth import Auth
from supersvg.scheduler.core.base import iso, log
from supersvg.scheduler.core.errors import Refusal, SchedulerError
from supersvg.scheduler.store import CallbackRecord, JobRecord

__all__ = ["Callbacks"]


class Callbacks(Auth):
    """At-least-once delivery of ``job.<state>`` notifications (docs/service.md)."""

    async def _check_callback(self, url: str) -> None:
        if not self.settings.callback_secret:
            raise SchedulerError(
                Refusal.INVALID,
                "CALLBACKS_DISABLED",
                "callbacks are not configured on this server",
            )
        try:
            target = check_url(url)
            await resolve_checked(target.host, target.port, self.settings.callback_allow_private)
        except (CallbackRefusedError, DeliveryError) as exc:
            raise SchedulerError(Refusal.INVALID, "INVALID_CALLBACK_URL", str(exc)) from None

    def callback_body(self, rec: JobRecord) -> dict[str, Any]:
        error = (
            {"code": rec.error_code, "message": rec.error_message or ""}
            if rec.state == "failed"
            else None
        )
        return {
            "type": f"job.{rec.state}",
            "timestamp": iso(time.time()),
            "data": {
                "job_id": rec.job_id,
                "status": rec.state,
                "progress": rec.progress,
                "created_at": iso(rec.created_at),
                "started_at": iso(rec.started_at),
                "finished_at": iso(rec.finished_at),
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
                delay = Backoff(self.settings.callback_backoff_seconds, 3600.0).delay(attempts)
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
