"""The scheduler's shared state and the helpers every part of it uses."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from opentelemetry import trace

from supersvg.api.jobs import priority_to_proto
from supersvg.common.storage import ArtifactStore
from supersvg.scheduler.executors.base import Executor
from supersvg.scheduler.metrics import SchedulerMetrics
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import JobRecord, JobStore

__all__ = ["PRIORITIES", "SchedulerBase", "iso", "log", "tracer"]

log = logging.getLogger("supersvg.scheduler.core")
tracer = trace.get_tracer("supersvg.scheduler")

#: Stored priority (the proto's enum value) -> its name.
PRIORITIES = {priority_to_proto(name): name for name in ("low", "normal", "high")}


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


class SchedulerBase:
    """State shared by the scheduler's parts (jobs, dispatch, callbacks, retention, auth)."""

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
        #: Attempts this leader asked its executor to stop (job id, attempt).
        self._stops: set[tuple[str, int]] = set()
        #: True while this replica runs the background loops (see ``leader``).
        self.leading = False
        self._wake = asyncio.Event()
        self._cb_wake = asyncio.Event()
        self._dispatch_lock = asyncio.Lock()
        self._watchers: dict[str, set[asyncio.Queue[JobRecord]]] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._side_tasks: set[asyncio.Task[Any]] = set()
        self._stopping = False
        self._last_orphan_sweep = 0.0
        self.metrics = SchedulerMetrics()

    def _notify(self, rec: JobRecord) -> None:
        for queue in self._watchers.get(rec.job_id, ()):
            queue.put_nowait(rec)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)
