"""Faults in the middle of running jobs, on the embedded stack as processes.

After each fault every submitted job reaches a correct terminal state (completed with a
valid SVG, or failed with a reason), none is lost or duplicated, and after retention no
artifact is left behind.
"""

from __future__ import annotations

import asyncio
import http.server
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import asyncpg
import httpx
import pytest

from supersvg.common.webhooks import verify
from tools.testing.reliability import (
    FAST,
    Workload,
    assert_retention_clean,
    record,
    unique_tenant,
    worker_pids,
)
from tools.testing.stack import Stack, start_stack

SIZES = [pytest.param(4, id="short"), pytest.param(12, id="long", marks=pytest.mark.slow)]


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Any]:
    stacks: list[Stack] = []

    def make(**kwargs: Any) -> Stack:
        env = {"SUPERSVG_SCHEDULER_MAX_CONCURRENCY": "2", **kwargs.pop("env", {})}
        s = start_stack(tmp_path / f"s{len(stacks)}" / ".data", env=env, tenants=(), **kwargs)
        stacks.append(s)
        return s

    yield make
    for s in stacks:
        s.stop()


def workload(stack: Stack, client: httpx.Client, prefix: str) -> Workload:
    tenant = unique_tenant(prefix)
    stack.new_token(tenant, max_active_jobs=100)
    return Workload(stack, tenant, client)


@pytest.mark.parametrize("jobs", SIZES)
def test_worker_sigkill(make_stack: Any, client: httpx.Client, jobs: int) -> None:
    stack = make_stack()
    wl = workload(stack, client, "kill")
    wl.submit(jobs)
    killed: list[str] = []
    deadline = time.monotonic() + 90
    # Kill one worker per two jobs, each while it runs; the job must come back as a new attempt.
    while len(killed) < max(1, jobs // 4) and time.monotonic() < deadline:
        pids = {j: p for j, p in worker_pids(stack).items() if j not in killed}
        if pids:
            job_id, pid = next(iter(pids.items()))
            os.kill(pid, signal.SIGKILL)
            killed.append(job_id)
        time.sleep(0.2)
    assert killed, "no worker was seen running"
    figures = wl.verify("worker SIGKILL", injected=len(killed))
    for job_id in killed:
        body = wl.final[job_id]
        assert body["status"] == "completed", body
        assert body["attempts"] >= 2, body
    assert figures["completed"] == jobs
    assert stack.embedded.scheduler is not None and stack.embedded.scheduler.poll() is None
    assert_retention_clean(stack, wl)


@pytest.mark.parametrize("jobs", SIZES)
def test_scheduler_restart(make_stack: Any, client: httpx.Client, jobs: int) -> None:
    stack = make_stack()
    wl = workload(stack, client, "restart")
    wl.submit(jobs)
    wl.wait_state(("running",))
    stack.restart_scheduler(kill=False)
    wl.submit(2)  # submits right after the restart are taken too
    figures = wl.verify("scheduler restart (SIGTERM)")
    assert figures["completed"] == jobs + 2
    assert_retention_clean(stack, wl)


@pytest.mark.parametrize("jobs", SIZES)
def test_postgres_connections_cut(
    make_stack: Any, client: httpx.Client, own_pg_dsn: str, jobs: int
) -> None:
    """Every connection to the stack's database is terminated, in a loop, for 10 s."""
    stack = make_stack(postgres_dsn=own_pg_dsn)
    wl = workload(stack, client, "pgcut")
    wl.submit(jobs)
    wl.wait_state(("running",))
    dbname = own_pg_dsn.rsplit("/", 1)[1]
    terminated = 0

    async def cut(seconds: float) -> None:
        nonlocal terminated
        admin = await asyncpg.connect(own_pg_dsn.rsplit("/", 1)[0] + "/postgres")
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                rows = await admin.fetch(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = $1 AND pid <> pg_backend_pid()",
                    dbname,
                )
                terminated += sum(1 for r in rows if r[0])
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    cutter = threading.Thread(target=asyncio.run, args=(cut(10.0),))
    cutter.start()
    statuses: list[int] = []
    while cutter.is_alive():
        try:
            r = client.get(
                f"{stack.base_url}/api/v1/vectorize/jobs/{wl.job_ids[0]}", headers=wl.headers
            )
            statuses.append(r.status_code)
            if r.status_code >= 500:
                assert r.json()["error"]["code"], r.text  # still the error model
        except httpx.HTTPError:
            statuses.append(0)
        time.sleep(0.2)
    cutter.join()
    assert terminated > 0, "no connection was cut"
    wl.submit(2)  # the service takes work again once the database answers
    figures = wl.verify("PostgreSQL connections cut for 10 s")
    assert figures["completed"] + figures["failed"] == jobs + 2
    assert figures["completed"] >= 2
    assert stack.embedded.scheduler is not None and stack.embedded.scheduler.poll() is None
    record(
        "pg_cut",
        connections_terminated=terminated,
        polls=len(statuses),
        polls_failed=sum(1 for s in statuses if s != 200),
    )


@pytest.mark.parametrize("jobs", SIZES)
def test_s3_unreachable(make_stack: Any, client: httpx.Client, s3: Any, jobs: int) -> None:
    """The S3 server is frozen (SIGSTOP) for 10 s: connections hang, no data is lost."""
    stack = make_stack(s3=s3)
    wl = workload(stack, client, "s3down")
    wl.submit(jobs)
    wl.wait_state(("running",))
    server = s3.proc
    assert server is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        time.sleep(10)
    finally:
        os.kill(server.pid, signal.SIGCONT)
    wl.submit(2)
    figures = wl.verify("S3 unreachable for 10 s")
    assert figures["completed"] + figures["failed"] == jobs + 2
    assert figures["completed"] >= 2
    for body in wl.final.values():
        if body["status"] == "failed":
            assert body["error"]["code"] in ("WORKER_FAILED", "STORAGE_UNAVAILABLE"), body
    assert_retention_clean(stack, wl, s3=s3)
    logs = stack.log("scheduler") + stack.log("gateway") + stack.worker_logs("job_*")
    assert s3.secret_key not in logs and s3.access_key not in logs, "S3 keys in the logs"


class _FlakyReceiver(http.server.BaseHTTPRequestHandler):
    fail_until = 0.0
    deliveries: ClassVar[list[dict[str, Any]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        ok = time.monotonic() >= self.fail_until
        with self.lock:
            self.deliveries.append(
                {"ok": ok, "headers": {k.lower(): v for k, v in self.headers.items()}, "body": body}
            )
        if not ok:
            # Half the failures as 503 answers, half as connections dropped without one.
            if len(self.deliveries) % 2:
                self.send_response(503)
                self.end_headers()
            else:
                self.close_connection = True
                self.connection.shutdown(2)
            return
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize("jobs", SIZES)
def test_callback_receiver_failing(make_stack: Any, client: httpx.Client, jobs: int) -> None:
    handler = type("Receiver", (_FlakyReceiver,), {"deliveries": [], "fail_until": 0.0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        stack = make_stack(
            env={
                "SUPERSVG_SCHEDULER_CALLBACK_ALLOW_PRIVATE": "true",
                "SUPERSVG_SCHEDULER_CALLBACK_BACKOFF_SECONDS": "0.3",
                "SUPERSVG_SCHEDULER_CALLBACK_MAX_ATTEMPTS": "10",
            }
        )
        handler.fail_until = time.monotonic() + 1e6  # failing from the start
        wl = workload(stack, client, "cb")
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        wl.submit(jobs, config={**FAST, "callback_url": url})
        wl.settle()
        time.sleep(1.0)
        handler.fail_until = time.monotonic()  # the receiver recovers
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ok = [d for d in handler.deliveries if d["ok"]]
            if len({json.loads(d["body"])["data"]["job_id"] for d in ok}) == len(wl.job_ids):
                break
            time.sleep(0.3)
        wl.verify("callback receiver failing")
        by_job: dict[str, list[dict[str, Any]]] = {}
        for d in handler.deliveries:
            by_job.setdefault(json.loads(d["body"])["data"]["job_id"], []).append(d)
        assert set(by_job) == set(wl.job_ids)
        failed_attempts = 0
        for job_id, ds in by_job.items():
            assert len({d["headers"]["webhook-id"] for d in ds}) == 1, "one event, one id"
            oks = [d for d in ds if d["ok"]]
            assert len(oks) == 1, f"{job_id}: {len(oks)} successful deliveries"
            verify(stack.webhook_secret, oks[0]["headers"], oks[0]["body"])
            assert json.loads(oks[0]["body"])["type"] == "job.completed"
            failed_attempts += len(ds) - 1
        assert failed_attempts >= len(wl.job_ids), "every job saw at least one failure"
        record("callbacks", deliveries=len(handler.deliveries), failed=failed_attempts)
    finally:
        server.shutdown()
