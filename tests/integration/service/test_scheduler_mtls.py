"""The scheduler with mutual TLS on loopback, reached by the gateway's client and by a real
local worker (reporting progress through its own mTLS channel), with the
plaintext health port for probes."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from PIL import Image, ImageDraw

from supersvg.api.jobs.worker_env import ENV_TLS_CA_FILE, ENV_TLS_CERT_FILE, ENV_TLS_KEY_FILE
from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.common.ids import new_job_id
from supersvg.common.storage import LocalArtifactStore, StorageSettings
from supersvg.common.tls import TlsFiles
from supersvg.gateway.client import SchedulerClient
from supersvg.gateway.errors import ApiError
from supersvg.scheduler.executors.local import LocalExecutor
from supersvg.scheduler.server import RunningScheduler, start_scheduler
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.worker.settings import WorkerSettings
from tools.testing.certs import Authority, write_set
from tools.testing.servers import free_port

HOSTS = ("localhost", "127.0.0.1")


@pytest.fixture
async def secured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[RunningScheduler, int, Authority, Path, LocalArtifactStore]]:
    root = tmp_path / "artifacts"
    monkeypatch.setenv("SUPERSVG_STORAGE_BACKEND", "local")
    monkeypatch.setenv("SUPERSVG_STORAGE_ROOT", str(root))
    ca = Authority()
    server_dir = write_set(tmp_path / "server", ca.pem, ca.issue("scheduler", True, HOSTS))
    client_dir = write_set(tmp_path / "client", ca.pem, ca.issue("client", False))
    # Local workers inherit the scheduler's environment: their client certificate.
    client = TlsFiles.in_dir(client_dir)
    monkeypatch.setenv(ENV_TLS_CA_FILE, str(client.ca))
    monkeypatch.setenv(ENV_TLS_CERT_FILE, str(client.cert))
    monkeypatch.setenv(ENV_TLS_KEY_FILE, str(client.key))
    health_port = free_port()
    server = TlsFiles.in_dir(server_dir)
    settings = SchedulerSettings(
        listen_addr="127.0.0.1:0",
        health_listen_addr=f"127.0.0.1:{health_port}",
        database_url=f"sqlite:///{tmp_path}/s.db",
        worker_log_dir=str(tmp_path / "logs"),
        worker_device="cpu",
        max_concurrency=1,
        tls_ca_file=str(server.ca),
        tls_cert_file=str(server.cert),
        tls_key_file=str(server.key),
    )
    storage = StorageSettings.from_env()
    rs = await start_scheduler(settings, storage, LocalExecutor.from_settings(settings, storage))
    try:
        yield rs, health_port, ca, client_dir, LocalArtifactStore(root)
    finally:
        await rs.stop()


def _png() -> bytes:
    img = Image.new("RGB", (48, 48), "white")
    ImageDraw.Draw(img).rectangle((8, 8, 36, 36), fill="blue")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_worker_reads_the_contract_names() -> None:
    # The operator sets these names in worker pods; the worker's settings must read them.
    env = {ENV_TLS_CA_FILE: "/t/ca.crt", ENV_TLS_CERT_FILE: "/t/tls.crt", ENV_TLS_KEY_FILE: "/t/k"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        files = WorkerSettings.from_env().tls_files()
    assert files == TlsFiles(Path("/t/ca.crt"), Path("/t/tls.crt"), Path("/t/k"))


async def test_gateway_and_worker_over_mtls(secured) -> None:
    rs, health_port, _, client_dir, store = secured
    client = SchedulerClient(f"127.0.0.1:{rs.port}", 10.0, TlsFiles.in_dir(client_dir))
    try:
        assert await client.ready()
        job_id = new_job_id()
        store.put(f"jobs/{job_id}/input", _png())
        await client.call(
            "SubmitJob",
            pb.SubmitJobRequest(
                tenant_id="t",
                job_id=job_id,
                input_key=f"jobs/{job_id}/input",
                config=pb.JobConfig(max_paths=8, num_iterations=0, output_format="svg"),
                request_hash="h",
            ),
        )
        job = None
        for _ in range(600):
            job = await client.call("GetJob", pb.GetJobRequest(tenant_id="t", job_id=job_id))
            if job.state in (pb.JOB_STATE_COMPLETED, pb.JOB_STATE_FAILED):
                break
            await asyncio.sleep(0.1)
        assert job is not None
        log = (Path(rs.scheduler.settings.worker_log_dir) / f"{job_id}.1.log").read_text()
        assert job.state == pb.JOB_STATE_COMPLETED, (job.error, log[-2000:])
        assert job.result.metrics.num_paths >= 1
        # Every report went through the worker's mTLS channel (a worker without a
        # certificate logs this failure; its job still completes from result.json).
        assert "progress report failed" not in log
    finally:
        await client.close()

    # Plaintext to the main port is refused (mapped to the gateway's 503).
    plain = SchedulerClient(f"127.0.0.1:{rs.port}", 2.0)
    try:
        assert not await plain.ready()
        with pytest.raises(ApiError) as err:
            await plain.call("Authenticate", pb.AuthenticateRequest(token="ssvg_x"))
        assert err.value.status == 503
    finally:
        await plain.close()

    # Probes: the plaintext health-only port answers, and nothing else is served there.
    async with grpc.aio.insecure_channel(f"127.0.0.1:{health_port}") as channel:
        resp = await health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service="supersvg.api.v1.SchedulerService"), timeout=5
        )
        assert resp.status == health_pb2.HealthCheckResponse.SERVING
        get_job = channel.unary_unary("/supersvg.api.v1.SchedulerService/GetJob")
        with pytest.raises(grpc.aio.AioRpcError) as rpc_err:
            await get_job(b"", timeout=5)
        assert rpc_err.value.code() == grpc.StatusCode.UNIMPLEMENTED
