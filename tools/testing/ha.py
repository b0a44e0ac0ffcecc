"""Scheduler replicas as real processes on one PostgreSQL database, for the failover
benchmark (benchmarks/ha_failover.py) and its test.

:class:`HaCluster` starts N ``supersvg-scheduler`` processes (local executor, real workers,
local artifact store, PostgreSQL advisory-lock election), a webhook receiver that counts
every callback delivery, submits jobs over gRPC to any replica, tells which replica leads
(its ``supersvg_scheduler_leader`` metric), SIGKILLs one, and summarises what happened to
every job from the database and the receiver.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import io
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import grpc
from PIL import Image, ImageDraw

from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.api.v1 import scheduler_pb2_grpc as pb_grpc
from supersvg.common.ids import new_job_id
from supersvg.common.storage import LocalArtifactStore
from tools.testing.servers import free_port

__all__ = ["CallbackReceiver", "HaCluster", "Replica"]

CALLBACK_SECRET = "whsec_" + "c3VwZXJzdmctaGEtZmFpbG92ZXItdGVzdA=="  # fixed test secret


def _png(seed: int) -> bytes:
    img = Image.new("RGB", (48, 40), (250, 250, 245))
    draw = ImageDraw.Draw(img)
    x = 4 + seed % 12
    draw.ellipse((x, 4, x + 24, 30), fill=(220, 40 + seed % 200, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


class CallbackReceiver:
    """An HTTP server on loopback that records every delivery (webhook-id, job, type)."""

    def __init__(self) -> None:
        self.deliveries: list[tuple[str, str, str]] = []
        lock = threading.Lock()
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    outer.deliveries.append(
                        (self.headers.get("webhook-id", ""), body["data"]["job_id"], body["type"])
                    )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Replica:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    metrics_port: int
    log_path: Path
    killed_at: float | None = None

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None

    def leading(self) -> bool:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=2
            ) as resp:
                text = resp.read().decode()
        except OSError:
            return False
        match = re.search(r"^supersvg_scheduler_leader (\S+)$", text, re.M)
        return bool(match and float(match.group(1)) == 1.0)

    def worker_pids(self) -> list[int]:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [int(m) for m in re.findall(r"\"pid\":\s*(\d+)", text)]


@dataclass
class HaCluster:
    workdir: Path
    dsn: str
    replicas: int = 2
    lease_seconds: float = 3.0
    concurrency: int = 2
    members: list[Replica] = field(default_factory=list)
    submitted: list[str] = field(default_factory=list)
    refused: int = 0

    def __post_init__(self) -> None:
        self.artifacts_root = self.workdir / "artifacts"
        self.artifacts = LocalArtifactStore(self.artifacts_root)
        self.receiver = CallbackReceiver()

    # ------------------------------------------------------------------ processes
    def _env(self, port: int, metrics_port: int, name: str) -> dict[str, str]:
        prefix = "SUPERSVG_SCHEDULER_"
        return {
            **os.environ,
            "SUPERSVG_STORAGE_BACKEND": "local",
            "SUPERSVG_STORAGE_ROOT": str(self.artifacts_root),
            "SUPERSVG_DEVICE": "cpu",
            "SUPERSVG_LOG_FORMAT": "json",
            prefix + "DATABASE_URL": self.dsn,
            prefix + "EXECUTOR": "local",
            prefix + "LISTEN_ADDR": f"127.0.0.1:{port}",
            prefix + "METRICS_ADDR": f"127.0.0.1:{metrics_port}",
            prefix + "MAX_CONCURRENCY": str(self.concurrency),
            prefix + "MAX_QUEUE_SIZE": "10000",
            prefix + "DEFAULT_MAX_ACTIVE_JOBS": "10000",
            prefix + "LEADER_LEASE_SECONDS": str(self.lease_seconds),
            prefix + "CALLBACK_SECRET": CALLBACK_SECRET,
            prefix + "CALLBACK_ALLOW_PRIVATE": "true",
            prefix + "CALLBACK_BACKOFF_SECONDS": "0.2",
            prefix + "WORKER_DEVICE": "cpu",
            prefix + "WORKER_LOG_DIR": str(self.workdir / "workers" / name),
        }

    def start_replica(self, name: str) -> Replica:
        port, metrics_port = free_port(), free_port()
        log_path = self.workdir / f"{name}.log"
        with log_path.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "supersvg.scheduler"],
                env=self._env(port, metrics_port, name),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        replica = Replica(name, proc, port, metrics_port, log_path)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            grpc.channel_ready_future(channel).result(timeout=60)
        finally:
            channel.close()
        self.members.append(replica)
        return replica

    def start(self) -> HaCluster:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for i in range(self.replicas):
            self.start_replica(f"scheduler-{i}")
        return self

    def leader(self) -> Replica | None:
        leaders = [r for r in self.members if r.alive and r.leading()]
        assert len(leaders) <= 1, f"two leaders at once: {[r.name for r in leaders]}"
        return leaders[0] if leaders else None

    def wait_leader(self, timeout: float = 60.0) -> Replica:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            leader = self.leader()
            if leader is not None:
                return leader
            time.sleep(0.05)
        raise AssertionError(f"no leader within {timeout} s")

    def kill(self, replica: Replica) -> float:
        """SIGKILL ``replica``; returns the monotonic time of the kill."""
        replica.proc.send_signal(signal.SIGKILL)
        replica.proc.wait(timeout=10)
        replica.killed_at = time.monotonic()
        return replica.killed_at

    # ------------------------------------------------------------------ jobs
    def submit(self, count: int) -> list[str]:
        """Submit ``count`` jobs, round-robin over the live replicas (followers too)."""
        live = [r for r in self.members if r.alive]
        ids = []
        for i in range(count):
            replica = live[(len(self.submitted) + i) % len(live)]
            job_id = new_job_id()
            self.artifacts.put(f"jobs/{job_id}/input", _png(len(self.submitted) + i))
            with grpc.insecure_channel(f"127.0.0.1:{replica.port}") as channel:
                stub = pb_grpc.SchedulerServiceStub(channel)
                try:
                    stub.SubmitJob(
                        pb.SubmitJobRequest(
                            tenant_id="ha",
                            job_id=job_id,
                            input_key=f"jobs/{job_id}/input",
                            config=pb.JobConfig(
                                max_paths=8,
                                num_iterations=0,
                                output_format="svg",
                                callback_url=self.receiver.url,
                            ),
                            request_hash=job_id,
                        ),
                        timeout=20,
                    )
                except grpc.RpcError:
                    self.refused += 1
                    continue
            ids.append(job_id)
        self.submitted += ids
        return ids

    async def _rows(self) -> list[dict[str, Any]]:
        import asyncpg

        conn = await asyncpg.connect(self.dsn)
        try:
            jobs = await conn.fetch("SELECT job_id, state, attempts FROM jobs")
            events = await conn.fetch("SELECT job_id, delivery_id, state FROM callbacks")
        finally:
            await conn.close()
        out = [
            dict(r, events=[dict(e) for e in events if e["job_id"] == r["job_id"]]) for r in jobs
        ]
        # Callback rows of no job would be a bug too: keep them visible.
        orphans = {e["job_id"] for e in events} - {r["job_id"] for r in jobs}
        return out + [{"job_id": j, "events": [], "orphan": True} for j in orphans]

    def rows(self) -> list[dict[str, Any]]:
        return asyncio.run(self._rows())

    def wait_done(self, timeout: float) -> list[dict[str, Any]]:
        """Wait until every submitted job is terminal and its callback delivered."""
        deadline = time.monotonic() + timeout
        rows: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            rows = self.rows()
            ours = [r for r in rows if r["job_id"] in set(self.submitted)]
            terminal = all(r.get("state") in ("completed", "failed", "cancelled") for r in ours)
            delivered = all(e["state"] == "delivered" for r in ours for e in r["events"]) and all(
                r["events"] for r in ours
            )
            if len(ours) == len(self.submitted) and terminal and delivered:
                return rows
            time.sleep(0.5)
        return rows

    def summary(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Lost, duplicated and double-called-back jobs (all should be 0)."""
        ours = {r["job_id"]: r for r in rows}
        received: dict[str, list[str]] = {}
        for delivery_id, job_id, _type in self.receiver.deliveries:
            received.setdefault(job_id, []).append(delivery_id)
        submitted = self.submitted
        return {
            "jobs_submitted": len(submitted),
            "jobs_refused": self.refused,
            "jobs_completed": sum(ours.get(j, {}).get("state") == "completed" for j in submitted),
            "jobs_lost": sum(
                ours.get(j, {}).get("state") not in ("completed", "failed", "cancelled")
                for j in submitted
            ),
            "jobs_failed": sum(ours.get(j, {}).get("state") == "failed" for j in submitted),
            # Rows beyond one per submitted job: a second row of a job, or a job nobody
            # submitted (the primary key makes the first impossible; counted, not assumed).
            "jobs_duplicated": len(rows) - len(set(submitted) & set(ours)),
            "jobs_retried_after_failover": sum(
                (ours.get(j, {}).get("attempts") or 0) > 1 for j in submitted
            ),
            "callback_events_per_job_max": max(
                (len(ours.get(j, {}).get("events", [])) for j in submitted), default=0
            ),
            "jobs_without_callback": sum(not received.get(j) for j in submitted),
            # A second delivery of a job's callback: the same event again or a second event.
            "double_callbacks": sum(max(0, len(ids) - 1) for ids in received.values()),
            # Distinct events (webhook-ids) received per job: a second event is a bug.
            "callback_ids_per_job_max": max(
                (len(set(ids)) for ids in received.values()), default=0
            ),
            # Jobs whose one event arrived more than once: delivery is at least once, and a
            # leader killed between its POST and recording it leaves the event pending.
            "jobs_redelivered": sorted(
                j for j, ids in received.items() if len(ids) > len(set(ids))
            ),
            "callback_deliveries": len(self.receiver.deliveries),
        }

    # ------------------------------------------------------------------ shutdown
    def stop(self) -> None:
        for replica in self.members:
            if replica.alive:
                replica.proc.send_signal(signal.SIGTERM)
        for replica in self.members:
            with contextlib.suppress(subprocess.TimeoutExpired):
                replica.proc.wait(timeout=20)
            if replica.alive:
                replica.proc.kill()
                replica.proc.wait()
            # Workers of a killed replica were in their own sessions: end any still running.
            if replica.killed_at is not None:
                for pid in replica.worker_pids():
                    cmdline = Path(f"/proc/{pid}/cmdline")
                    with contextlib.suppress(OSError):
                        if b"supersvg.worker" in cmdline.read_bytes():
                            os.kill(pid, signal.SIGTERM)
        self.receiver.stop()
