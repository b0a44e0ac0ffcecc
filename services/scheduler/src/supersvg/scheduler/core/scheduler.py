"""The scheduler's engine: job state machine, dispatch, progress, cancel, retries,
retention and callbacks, over a :class:`JobStore`, an artifact store and an executor.

States (lower-case names of the proto's ``JobState``)::

    queued -> running -> completed | failed
    queued -> cancelled                      (cancel before start)
    running -> cancelling -> cancelled       (cancel of a running job)
    running -> queued                        (worker crashed, attempts left; scheduler restart)
    completed | failed | cancelled -> expired (after retention; artifacts deleted)

:class:`Scheduler` owns the loops; its parts live beside it, one job each: ``jobs``
(submit, idempotency, list, cancel, watch), ``dispatch`` (attempts, outcomes, recovery),
``callbacks``, ``retention`` and ``auth``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from supersvg.common.storage import ArtifactStore
from supersvg.scheduler.core.base import log
from supersvg.scheduler.core.jobs import Jobs
from supersvg.scheduler.core.retention import Retention
from supersvg.scheduler.executors.base import Executor
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import JobStore

__all__ = ["Scheduler"]


class Scheduler(Jobs, Retention):
    """Owns the loops; the gRPC servicer calls the public coroutines."""

    def __init__(
        self,
        settings: SchedulerSettings,
        store: JobStore,
        artifacts: ArtifactStore,
        executor: Executor,
        worker_addr: str,
    ) -> None:
        super().__init__(settings, store, artifacts, executor, worker_addr)
        executor.set_outcome_handler(self._on_outcome)
        executor.set_phase_handler(self._on_phase)

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
