"""The scheduler's gRPC contract in process on a loopback port, with the real local
executor running the real worker: SubmitJob -> WatchJob stream -> completed; health;
Authenticate; worker-token checks; trace context from metadata."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image, ImageDraw

from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.api.v1 import scheduler_pb2_grpc as pb_grpc
from supersvg.common.ids import new_job_id
from supersvg.common.storage import LocalArtifactStore, StorageSettings
from supersvg.scheduler.core import hash_token
from supersvg.scheduler.executors.local import LocalExecutor
from supersvg.scheduler.server import RunningScheduler, start_scheduler
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import TenantRecord, TokenRecord

TRACE = "0af7651916cd43dd8448eb211c80319c"


@pytest.fixture
async def running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RunningScheduler, pb_grpc.SchedulerServiceStub, LocalArtifactStore]]:
    root = tmp_path / "artifacts"
    monkeypatch.setenv("SUPERSVG_STORAGE_BACKEND", "local")
    monkeypatch.setenv("SUPERSVG_STORAGE_ROOT", str(root))
    settings = SchedulerSettings(
        listen_addr="127.0.0.1:0",
        database_url=f"sqlite:///{tmp_path}/s.db",
        worker_log_dir=str(tmp_path / "logs"),
        worker_device="cpu",
        max_concurrency=1,
    )
    storage = StorageSettings.from_env()
    executor = LocalExecutor.from_settings(settings, storage)
    rs = await start_scheduler(settings, storage, executor)
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{rs.port}")
    try:
        yield rs, pb_grpc.SchedulerServiceStub(channel), LocalArtifactStore(root)
    finally:
        await channel.close()
        await rs.stop()


def _png() -> bytes:
    img = Image.new("RGB", (64, 64), "white")
    ImageDraw.Draw(img).ellipse((8, 8, 48, 48), fill="red")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


async def test_submit_watch_complete(running) -> None:
    rs, stub, store = running
    job_id = new_job_id()
    store.put(f"jobs/{job_id}/input", _png())
    metadata = (("traceparent", f"00-{TRACE}-b7ad6b7169203331-01"),)
    resp = await stub.SubmitJob(
        pb.SubmitJobRequest(
            tenant_id="t",
            job_id=job_id,
            input_key=f"jobs/{job_id}/input",
            config=pb.JobConfig(
                max_paths=16, num_iterations=0, output_format="svg", priority=pb.PRIORITY_HIGH
            ),
            request_hash="h",
        ),
        metadata=metadata,
    )
    assert resp.job.state == pb.JOB_STATE_QUEUED and not resp.deduplicated
    assert resp.job.trace_id == TRACE, "the job joins the caller's trace"
    states = []
    async for job in stub.WatchJob(pb.WatchJobRequest(tenant_id="t", job_id=job_id), timeout=90):
        states.append(pb.JobState.Name(job.state))
    assert states[-1] == "JOB_STATE_COMPLETED", states
    assert "JOB_STATE_RUNNING" in states
    final = await stub.GetJob(pb.GetJobRequest(tenant_id="t", job_id=job_id))
    assert final.result.svg_key == f"jobs/{job_id}/output.svg"
    assert final.result.metrics.num_paths >= 1
    assert store.exists(final.result.result_json_key)
    assert final.HasField("finished_at") and final.progress == 100
    logs = (Path(rs.scheduler.settings.worker_log_dir) / f"{job_id}.1.log").read_text()
    assert TRACE in logs, "the worker's spans share the job's trace id"
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.GetJob(pb.GetJobRequest(tenant_id="someone-else", job_id=job_id))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


async def test_health_auth_and_worker_tokens(running) -> None:
    rs, stub, _ = running
    channel = grpc.aio.insecure_channel(f"127.0.0.1:{rs.port}")
    health = health_pb2_grpc.HealthStub(channel)
    for service in ("", "supersvg.api.v1.SchedulerService"):
        r = await health.Check(health_pb2.HealthCheckRequest(service=service))
        assert r.status == health_pb2.HealthCheckResponse.SERVING
    await channel.close()

    store = rs.scheduler.store
    await store.upsert_tenant(TenantRecord("acme", 30, 4))
    await store.create_token(TokenRecord("tok_1", "acme", "", 1.0), hash_token("ssvg_secret"))
    tenant = await stub.Authenticate(pb.AuthenticateRequest(token="ssvg_secret"))
    assert (tenant.tenant_id, tenant.rate_limit_per_minute, tenant.max_active_jobs) == (
        "acme",
        30,
        4,
    )
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.Authenticate(pb.AuthenticateRequest(token="ssvg_wrong"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert ("supersvg-error-code", "UNAUTHENTICATED") in tuple(err.value.trailing_metadata())

    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.ReportProgress(pb.ReportProgressRequest(job_id="job_nope", attempt=1))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.aio.AioRpcError) as err:
        await stub.SubmitJob(pb.SubmitJobRequest(tenant_id="t", job_id="bad", input_key="x"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
