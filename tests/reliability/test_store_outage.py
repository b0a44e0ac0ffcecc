"""A worker outcome that arrives while the database is unreachable is not lost: the
scheduler (in process, real SQLite store, a scripted executor) records it once the store
answers again, instead of leaving the job 'running' with no worker."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from supersvg.common.storage import LocalArtifactStore
from supersvg.scheduler.core import Scheduler
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import open_store
from tools.testing.reliability import record
from tools.testing.scheduler import ScriptedExecutor, req, state


async def test_outcome_during_a_store_outage_is_recorded(tmp_path: Path) -> None:
    settings = SchedulerSettings(database_url=f"sqlite:///{tmp_path}/s.db", max_attempts=2)
    store = await open_store(settings.database_url)
    executor = ScriptedExecutor()
    sched = Scheduler(settings, store, LocalArtifactStore(tmp_path / "a"), executor, "w:1")
    await sched.start()
    try:
        rec, _ = await sched.submit(req(), "", "")
        (spec,) = await executor.wait_launches(1)
        real_get = store.get_job
        failures = {"left": 3}

        async def flaky_get(job_id: str) -> Any:
            if failures["left"] > 0:
                failures["left"] -= 1
                raise ConnectionResetError("connection to the database was terminated")
            return await real_get(job_id)

        store.get_job = flaky_get  # type: ignore[method-assign]
        await executor.finish(spec, 2)  # the worker refused the input: a permanent failure
        store.get_job = real_get  # type: ignore[method-assign]
        assert failures["left"] == 0
        assert await state(sched, rec.job_id) == "failed"
        done = await store.get_job(rec.job_id)
        assert done is not None and done.error_code == "INVALID_IMAGE"
        record(
            "fault",
            fault="store outage while an outcome arrives (in process)",
            submitted=1,
            completed=0,
            failed=1,
            lost=0,
        )
    finally:
        await sched.stop()
        await store.close()
