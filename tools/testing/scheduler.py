"""The scheduler in process for tests: an executor whose attempts the test ends, submit
requests and job states."""

from __future__ import annotations

import asyncio
from typing import Any

from supersvg.common.ids import new_job_id
from supersvg.scheduler.core import Scheduler, SubmitRequest
from supersvg.scheduler.executors.base import ExecutionOutcome, Executor, WorkSpec

__all__ = ["ScriptedExecutor", "req", "state"]


class ScriptedExecutor(Executor):
    """Records launches; the test ends attempts by calling ``finish``."""

    name = "scripted"

    def __init__(self, capacity: int = 2, adopt: bool = False) -> None:
        super().__init__()
        self._capacity = capacity
        self._adopt = adopt
        self.launched: list[WorkSpec] = []
        self.cancelled: list[tuple[str, int, float]] = []
        self.launch_event = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: Any, storage: Any) -> ScriptedExecutor:
        return cls()

    @property
    def capacity(self) -> int | None:
        return self._capacity

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def launch(self, spec: WorkSpec) -> None:
        self.launched.append(spec)
        self.launch_event.set()

    async def cancel(self, job_id: str, attempt: int, grace_s: float) -> None:
        self.cancelled.append((job_id, attempt, grace_s))

    async def adopt(self, spec: WorkSpec) -> bool:
        return self._adopt

    async def finish(self, spec: WorkSpec, code: int | None) -> None:
        await self.report(ExecutionOutcome(spec.job_id, spec.attempt, code, f"exit {code}"))

    async def wait_launches(self, n: int, limit_s: float = 5.0) -> list[WorkSpec]:
        async with asyncio.timeout(limit_s):
            while len(self.launched) < n:
                self.launch_event.clear()
                await self.launch_event.wait()
        return self.launched


def req(tenant: str = "t", priority: int = 2, **kw: Any) -> SubmitRequest:
    job_id = new_job_id()
    base: dict[str, Any] = dict(
        tenant_id=tenant,
        job_id=job_id,
        input_key=f"jobs/{job_id}/input",
        max_paths=16,
        num_iterations=0,
        priority=priority,
        request_hash="h",
    )
    return SubmitRequest(**{**base, **kw})


async def state(s: Scheduler, job_id: str) -> str:
    rec = await s.store.get_job(job_id)
    assert rec is not None
    return rec.state
