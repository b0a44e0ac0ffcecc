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

Replicas: every replica serves the API; the background loops (dispatch with its cancel
sweep, executor watch and recovery, callbacks, retention) run only while this replica is
the elected leader (:mod:`supersvg.scheduler.leader`). Capacity is counted from the
database, so a new leader sees the attempts its predecessor started. A replica that
loses the lead (its database session or Lease renewal failed) stops those loops and
stands for election again; its executor keeps reporting the attempts it runs.
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
from supersvg.scheduler.leader import AlwaysLeader, LeaderElection
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
        *,
        election: LeaderElection | None = None,
    ) -> None:
        super().__init__(settings, store, artifacts, executor, worker_addr)
        self.election = election or AlwaysLeader()
        self._leader_tasks: list[asyncio.Task[None]] = []
        self._executor_started = False
        executor.set_outcome_handler(self._on_outcome)
        executor.set_phase_handler(self._on_phase)

    async def start(self) -> None:
        """Migrate and start serving; with a single replica (:class:`AlwaysLeader`) the
        loops run before this returns, else once this replica is elected."""
        applied = await self.store.migrate()
        if applied:
            log.info("migrations applied", extra={"versions": applied})
        await asyncio.to_thread(self.artifacts.check)
        await self._bootstrap_token()
        self._tasks = [
            asyncio.create_task(self._loop(self._refresh_metrics, None, 2.0), name="metrics"),
        ]
        if isinstance(self.election, AlwaysLeader):
            await self.election.acquire()
            await self._begin_leading()
        self._tasks.append(asyncio.create_task(self._campaign(), name="leader"))

    async def _campaign(self) -> None:
        """Lead whenever elected; after a lost lead (e.g. the database connection was cut)
        stop the loops and stand again. The executor keeps watching the attempts it runs:
        their outcomes are conditional updates, harmless when the new leader adopted them."""
        while not self._stopping:
            try:
                if not self.leading:
                    await self.election.acquire()
                    await self._begin_leading()
                await self.election.hold()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("leader election failed")
                await asyncio.sleep(1.0)
            if self.leading and not self._stopping:
                log.error("leadership lost: the loops stop until this replica is elected again")
                await self._end_leading()

    async def _begin_leading(self) -> None:
        """Adopt or requeue the attempts the previous leader left, then start the loops."""
        self.leading = True
        self.metrics.leader.set(1)
        log.info("leading: starting the loops", extra={"identity": self.election.identity})
        if not self._executor_started:
            await self.executor.start()
            self._executor_started = True
        await self._recover()
        self._leader_tasks = [
            asyncio.create_task(self._loop(self._dispatch, self._wake, 1.0), name="dispatch"),
            asyncio.create_task(
                self._loop(self._deliver_due, self._cb_wake, 0.5), name="callbacks"
            ),
            asyncio.create_task(
                self._loop(self.sweep_retention, None, self.settings.retention_interval_seconds),
                name="retention",
            ),
        ]
        self._wake.set()

    async def _end_leading(self) -> None:
        self.leading = False
        self.metrics.leader.set(0)
        for task in self._leader_tasks:
            task.cancel()
        for task in self._leader_tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._leader_tasks = []

    async def stop(self) -> None:
        self._stopping = True
        for task in (*self._tasks, *self._leader_tasks):
            task.cancel()
        for task in (*self._tasks, *self._leader_tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._executor_started:
            await self.executor.stop()
        await self.election.release()
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
        await self.metrics.refresh(self.store, await self.running_attempts())
        cap = self.capacity()
        self.metrics.capacity.set(-1 if cap is None else cap)
