"""The scheduler's state machine over a real SQLite store and local artifact folder, with a
scripted executor that implements the executor interface in process (no workers)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from supersvg.common.storage import LocalArtifactStore
from supersvg.scheduler.core import Refusal, Scheduler, SchedulerError
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import open_store
from tools.testing.scheduler import ScriptedExecutor, req, state


@pytest.fixture
async def env(tmp_path: Path) -> AsyncIterator[tuple[Scheduler, ScriptedExecutor]]:
    settings = SchedulerSettings(
        database_url=f"sqlite:///{tmp_path}/s.db",
        max_attempts=2,
        default_max_active_jobs=3,
        max_queue_size=4,
        retention_seconds=3600,
        retention_interval_seconds=3600,
    )
    store = await open_store(settings.database_url)
    executor = ScriptedExecutor()
    sched = Scheduler(settings, store, LocalArtifactStore(tmp_path / "a"), executor, "w:1")
    await sched.start()
    try:
        yield sched, executor
    finally:
        await sched.stop()
        await store.close()


async def test_dispatch_order_capacity_and_work_spec(
    env: tuple[Scheduler, ScriptedExecutor],
) -> None:
    s, ex = env
    ex._capacity = 1
    first, _ = await s.submit(req(), "trace", "00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    (spec,) = await ex.wait_launches(1)
    assert spec.job_id == first.job_id and spec.attempt == 1
    env_vars = spec.env()
    assert env_vars["SUPERSVG_JOB_INPUT_KEY"] == f"jobs/{first.job_id}/input"
    assert env_vars["SUPERSVG_JOB_OUTPUT_PREFIX"] == f"jobs/{first.job_id}/"
    assert json.loads(env_vars["SUPERSVG_JOB_CONFIG"])["max_paths"] == 16
    assert env_vars["SUPERSVG_SCHEDULER_ADDR"] == "w:1"
    assert env_vars["TRACEPARENT"].split("-")[1] == "1" * 32, "the job's trace continues"
    low, _ = await s.submit(req(priority=1), "", "")
    high, _ = await s.submit(req(priority=3), "", "")
    await asyncio.sleep(0.1)
    assert len(ex.launched) == 1, "capacity bounds running attempts"
    await ex.finish(spec, 2)  # any exit frees the slot
    specs = await ex.wait_launches(2)
    assert specs[1].job_id == high.job_id, "high priority first"
    await ex.finish(specs[1], 2)
    specs = await ex.wait_launches(3)
    assert specs[2].job_id == low.job_id


async def test_retry_then_fail_and_permanent_errors(
    env: tuple[Scheduler, ScriptedExecutor],
) -> None:
    s, ex = env
    job, _ = await s.submit(req(), "", "")
    (spec,) = await ex.wait_launches(1)
    await ex.finish(spec, 1)  # crash: retried
    specs = await ex.wait_launches(2)
    assert specs[1].attempt == 2 and specs[1].worker_token != spec.worker_token
    await ex.finish(specs[1], -9)  # killed again: out of attempts
    rec = await s.store.get_job(job.job_id)
    assert rec is not None and rec.state == "failed" and rec.error_code == "WORKER_FAILED"

    bad, _ = await s.submit(req(), "", "")
    specs = await ex.wait_launches(3)
    await ex.finish(specs[2], 2)  # invalid input: never retried
    rec = await s.store.get_job(bad.job_id)
    assert rec is not None and rec.state == "failed" and rec.error_code == "INVALID_IMAGE"
    await asyncio.sleep(0.2)
    assert len(ex.launched) == 3


async def test_progress_reports_are_authenticated(env: tuple[Scheduler, ScriptedExecutor]) -> None:
    s, ex = env
    job, _ = await s.submit(req(), "", "")
    (spec,) = await ex.wait_launches(1)
    with pytest.raises(SchedulerError) as err:
        await s.report_progress(
            job_id=job.job_id,
            attempt=1,
            worker_token="forged",
            progress=10,
            stage="x",
            result=None,
            error=None,
        )
    assert err.value.kind == Refusal.FORBIDDEN
    stop = await s.report_progress(
        job_id=job.job_id,
        attempt=1,
        worker_token=spec.worker_token,
        progress=40,
        stage="refine",
        result=None,
        error=None,
    )
    assert stop is False
    rec = await s.store.get_job(job.job_id)
    assert rec is not None and (rec.progress, rec.stage) == (40, "refine")
    # Progress never goes back; a stale attempt number is told to stop.
    await s.report_progress(
        job_id=job.job_id,
        attempt=1,
        worker_token=spec.worker_token,
        progress=20,
        stage="refine",
        result=None,
        error=None,
    )
    assert (await s.store.get_job(job.job_id)).progress == 40  # type: ignore[union-attr]
    assert (
        await s.report_progress(
            job_id=job.job_id,
            attempt=7,
            worker_token=spec.worker_token,
            progress=50,
            stage="x",
            result=None,
            error=None,
        )
        is True
    )
    result = {
        "svg_key": "k",
        "preview_png_key": "p",
        "result_json_key": "r",
        "metrics": {"num_paths": 3},
    }
    await s.report_progress(
        job_id=job.job_id,
        attempt=1,
        worker_token=spec.worker_token,
        progress=100,
        stage="done",
        result=result,
        error=None,
    )
    rec = await s.store.get_job(job.job_id)
    assert rec is not None and rec.state == "completed" and rec.result == result
    await ex.finish(spec, 0)  # the exit after the final report changes nothing
    assert await state(s, job.job_id) == "completed"


async def test_cancel(env: tuple[Scheduler, ScriptedExecutor]) -> None:
    s, ex = env
    ex._capacity = 1
    running, _ = await s.submit(req(), "", "")
    queued, _ = await s.submit(req(), "", "")
    (spec,) = await ex.wait_launches(1)
    assert (await s.cancel("t", queued.job_id)).state == "cancelled"
    rec = await s.cancel("t", running.job_id)
    assert rec.state == "cancelling"
    stop = await s.report_progress(
        job_id=running.job_id,
        attempt=1,
        worker_token=spec.worker_token,
        progress=50,
        stage="x",
        result=None,
        error=None,
    )
    assert stop is True, "the worker learns of the cancel from its next report"
    await asyncio.sleep(0.05)
    assert ex.cancelled == [(running.job_id, 1, s.settings.cancel_grace_seconds)]
    await ex.finish(spec, -15)
    assert await state(s, running.job_id) == "cancelled"
    assert (await s.cancel("t", queued.job_id)).state == "cancelled"
    # cancelled jobs stay cancelled; other tenants see nothing
    with pytest.raises(SchedulerError) as err:
        await s.cancel("other", running.job_id)
    assert err.value.kind == Refusal.NOT_FOUND


async def test_cancel_finished_is_invalid_state(env: tuple[Scheduler, ScriptedExecutor]) -> None:
    s, ex = env
    job, _ = await s.submit(req(), "", "")
    (spec,) = await ex.wait_launches(1)
    await ex.finish(spec, 2)
    with pytest.raises(SchedulerError) as err:
        await s.cancel("t", job.job_id)
    assert err.value.kind == Refusal.WRONG_STATE
    assert err.value.code == "INVALID_STATE"


async def test_idempotency_quota_capacity(env: tuple[Scheduler, ScriptedExecutor]) -> None:
    s, ex = env
    ex._capacity = 0
    r = req(idempotency_key="k1")
    a, dedup_a = await s.submit(r, "", "")
    b, dedup_b = await s.submit(req(idempotency_key="k1"), "", "")
    assert (dedup_a, dedup_b) == (False, True) and b.job_id == a.job_id
    with pytest.raises(SchedulerError) as err:
        await s.submit(req(idempotency_key="k1", request_hash="other"), "", "")
    assert err.value.code == "IDEMPOTENCY_KEY_REUSED"
    await s.submit(req(), "", "")
    await s.submit(req(), "", "")
    with pytest.raises(SchedulerError) as err:
        await s.submit(req(), "", "")
    assert err.value.code == "QUOTA_EXCEEDED"
    await s.submit(req(tenant="u"), "", "")
    with pytest.raises(SchedulerError) as err:
        await s.submit(req(tenant="v"), "", "")
    assert err.value.code == "CAPACITY_EXHAUSTED"


@pytest.mark.parametrize(
    ("kw", "code"),
    [
        ({"max_paths": 0}, "INVALID_CONFIG"),
        ({"output_format": "png"}, "INVALID_CONFIG"),
        ({"preset": "oil"}, "INVALID_CONFIG"),
        ({"callback_url": "https://example.com/x"}, "CALLBACKS_DISABLED"),
        ({"job_id": "job_bad"}, "INVALID_ARGUMENT"),
    ],
)
async def test_submit_validation(
    env: tuple[Scheduler, ScriptedExecutor], kw: dict[str, Any], code: str
) -> None:
    s, _ = env
    with pytest.raises(SchedulerError) as err:
        await s.submit(req(**kw), "", "")
    assert err.value.code == code


async def test_restart_requeues_running_jobs(tmp_path: Path) -> None:
    settings = SchedulerSettings(database_url=f"sqlite:///{tmp_path}/s.db")
    artifacts = LocalArtifactStore(tmp_path / "a")
    store = await open_store(settings.database_url)
    ex1 = ScriptedExecutor()
    s1 = Scheduler(settings, store, artifacts, ex1, "w:1")
    await s1.start()
    job, _ = await s1.submit(req(), "", "")
    await ex1.wait_launches(1)
    await s1.stop()  # the attempt is abandoned, the row still says running
    assert await state(s1, job.job_id) == "running"
    ex2 = ScriptedExecutor()
    s2 = Scheduler(settings, store, artifacts, ex2, "w:1")
    await s2.start()
    try:
        (spec,) = await ex2.wait_launches(1)
        assert spec.job_id == job.job_id and spec.attempt == 2
    finally:
        await s2.stop()
        await store.close()


async def test_exit_zero_without_report_uses_result_json(
    env: tuple[Scheduler, ScriptedExecutor],
) -> None:
    s, ex = env
    job, _ = await s.submit(req(), "", "")
    (spec,) = await ex.wait_launches(1)
    s.artifacts.put(
        f"jobs/{job.job_id}/result.json", json.dumps({"metrics": {"num_paths": 5}}).encode()
    )
    await ex.finish(spec, 0)
    rec = await s.store.get_job(job.job_id)
    assert rec is not None and rec.state == "completed"
    assert rec.result is not None and rec.result["metrics"]["num_paths"] == 5


async def test_retention_sweep(env: tuple[Scheduler, ScriptedExecutor]) -> None:
    s, ex = env
    job, _ = await s.submit(req(), "", "")
    (spec,) = await ex.wait_launches(1)
    s.artifacts.put(f"jobs/{job.job_id}/input", b"x")
    await ex.finish(spec, 2)
    assert await s.sweep_retention() == 0, "too young to expire"
    await s.store.update_job(job.job_id, None, finished_at=1.0)
    assert await s.sweep_retention() == 1
    rec = await s.store.get_job(job.job_id)
    assert rec is None or rec.state == "expired"
    assert s.artifacts.list(f"jobs/{job.job_id}/") == []


async def test_exit_cancelled_without_cancel_request_is_retried(
    env: tuple[Scheduler, ScriptedExecutor],
) -> None:
    s, ex = env
    job, _ = await s.submit(req(), "", "")
    (spec,) = await ex.wait_launches(1)
    await ex.finish(spec, 3)  # e.g. a pod evicted with SIGTERM
    specs = await ex.wait_launches(2)
    assert specs[1].job_id == job.job_id and specs[1].attempt == 2
    assert await state(s, job.job_id) == "running"


async def test_restart_adopts_live_attempts_and_resumes_cancel(tmp_path: Path) -> None:
    settings = SchedulerSettings(database_url=f"sqlite:///{tmp_path}/s.db")
    artifacts = LocalArtifactStore(tmp_path / "a")
    store = await open_store(settings.database_url)
    ex1 = ScriptedExecutor()
    s1 = Scheduler(settings, store, artifacts, ex1, "w:1")
    await s1.start()
    a, _ = await s1.submit(req(), "", "")
    b, _ = await s1.submit(req(), "", "")
    await ex1.wait_launches(2)
    await s1.cancel("t", b.job_id)
    await s1.stop()
    ex2 = ScriptedExecutor(adopt=True)  # e.g. pods that outlived the scheduler
    s2 = Scheduler(settings, store, artifacts, ex2, "w:1")
    await s2.start()
    try:
        await asyncio.sleep(0.1)
        assert ex2.launched == [], "adopted attempts are not started again"
        assert [c[0] for c in ex2.cancelled] == [b.job_id]
        spec_a = next(sp for sp in ex1.launched if sp.job_id == a.job_id)
        await ex2.finish(spec_a, 1)  # the adopted attempt's outcome still counts
        assert await state(s2, a.job_id) == "queued" or len(ex2.launched) == 1
    finally:
        await s2.stop()
        await store.close()


async def test_bootstrap_token_and_secret_validation(tmp_path: Path) -> None:
    from supersvg.common.settings import ConfigurationError

    settings = SchedulerSettings(
        database_url=f"sqlite:///{tmp_path}/s.db",
        bootstrap_tenant="ops",
        bootstrap_token="ssvg_from_a_secret",
    )
    store = await open_store(settings.database_url)
    for _ in range(2):  # idempotent across restarts
        s = Scheduler(settings, store, LocalArtifactStore(tmp_path / "a"), ScriptedExecutor(), "")
        await s.start()
        assert (await s.authenticate("ssvg_from_a_secret")).tenant_id == "ops"
        await s.stop()
    assert len(await store.list_tokens("ops")) == 1
    await store.close()
    with pytest.raises(ConfigurationError, match="CALLBACK_SECRET"):
        SchedulerSettings.from_env(callback_secret="not-a-secret")
    with pytest.raises(ConfigurationError):
        SchedulerSettings.from_env(callback_secret="whsec_!!!")
    SchedulerSettings.from_env(callback_secret="whsec_" + "QUJD" * 8)


async def test_orphaned_uploads_are_swept(env: tuple[Scheduler, ScriptedExecutor]) -> None:
    from supersvg.common.ids import job_id_time, ulid

    s, ex = env
    ex._capacity = 0
    old_orphan = "job_" + ulid(int((time.time() - 7200) * 1000))
    young_orphan = "job_" + ulid()
    job, _ = await s.submit(req(), "", "")
    assert abs(job_id_time(job.job_id) - time.time()) < 60
    for name in (old_orphan, young_orphan, job.job_id):
        s.artifacts.put(f"jobs/{name}/input", b"x")
    assert await s.sweep_orphans(time.time()) == 1
    assert s.artifacts.list_folders("jobs/") == sorted([young_orphan, job.job_id])


async def test_the_served_model_goes_with_every_attempt_and_exit_4_is_permanent(
    tmp_path: Path,
) -> None:
    from supersvg.api.jobs import ExitCode
    from supersvg.api.jobs.models import ModelRef
    from supersvg.common.settings import ConfigurationError

    digest = "ab" * 32
    settings = SchedulerSettings(
        database_url=f"sqlite:///{tmp_path}/s.db", model="tiny-1", model_sha256=digest
    )
    store = await open_store(settings.database_url)
    ex = ScriptedExecutor()
    s = Scheduler(settings, store, LocalArtifactStore(tmp_path / "a"), ex, "w:1")
    await s.start()
    try:
        job, _ = await s.submit(req(), "", "")
        (spec,) = await ex.wait_launches(1)
        assert spec.model == ModelRef("tiny-1", digest)
        env = spec.env()
        assert env["SUPERSVG_MODEL"] == "tiny-1" and env["SUPERSVG_MODEL_SHA256"] == digest
        await ex.finish(spec, ExitCode.MODEL_UNAVAILABLE)  # no report arrived: still clear
        rec = await s.store.get_job(job.job_id)
        assert rec is not None and rec.state == "failed"
        assert rec.error_code == "MODEL_UNAVAILABLE"
        await asyncio.sleep(0.2)
        assert len(ex.launched) == 1, "a missing model is not retried"
    finally:
        await s.stop()
        await store.close()
    assert SchedulerSettings(database_url="sqlite:///x.db").model_ref() is None
    with pytest.raises(ConfigurationError, match="invalid model name"):
        SchedulerSettings.from_env(model="Not A Name")
    with pytest.raises(ConfigurationError, match="invalid sha256"):
        SchedulerSettings.from_env(model="tiny-1", model_sha256="abc")
    with pytest.raises(ConfigurationError, match="invalid model name"):
        SchedulerSettings.from_env(model_sha256=digest)  # a digest without a name
