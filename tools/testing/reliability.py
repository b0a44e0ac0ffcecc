"""Shared pieces of the reliability suites: a job workload with its invariants, process
lookup (workers, RSS), fault helpers, and the figures each test records for the report.

Figures: when ``SUPERSVG_RELIABILITY_OUT`` names a file, every ``record(...)`` appends one
JSON line to it; ``benchmarks/reliability_report.py`` turns those lines into
``benchmarks/results/reliability.{json,md}``.
"""

from __future__ import annotations

import io
import json
import os
import time
import uuid
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from tools.testing.stack import Stack

FAST = {"max_paths": 12, "num_iterations": 0}
TERMINAL = ("completed", "failed", "cancelled", "expired")


def record(kind: str, **data: Any) -> None:
    """Append one figure for the report (no-op unless SUPERSVG_RELIABILITY_OUT is set)."""
    out = os.environ.get("SUPERSVG_RELIABILITY_OUT")
    if not out:
        return
    with open(out, "a", encoding="utf-8") as f:
        f.write(json.dumps({"kind": kind, "time": time.time(), **data}) + "\n")


def png_bytes(size: int = 64, seed: int = 0) -> bytes:
    img = Image.new("RGB", (size, size), (250, 250, 245))
    d = ImageDraw.Draw(img)
    d.ellipse((4 + seed % 20, 6, size // 2 + 10, size // 2 + 12), fill=(220, 40, 40))
    d.rectangle((size // 3, size // 2, size - 4, size - 5), fill=(30, 70 + seed % 100, 200))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


# --------------------------------------------------------------------------- workload


@dataclass
class Workload:
    """Jobs submitted by one tenant, checked against the service's promises at the end."""

    stack: Stack
    tenant: str
    client: httpx.Client
    job_ids: list[str] = field(default_factory=list)
    final: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return self.stack.headers(self.tenant)

    def submit(
        self, n: int, config: dict[str, Any] | None = None, image: bytes | None = None
    ) -> None:
        for _ in range(n):
            seed = len(self.job_ids)
            r = self.client.post(
                f"{self.stack.base_url}/api/v1/vectorize/jobs",
                files={"image": ("in.png", image or png_bytes(64, seed))},
                data={"config": json.dumps(config or FAST)},
                headers={**self.headers, "Idempotency-Key": f"wl-{self.tenant}-{seed}"},
            )
            assert r.status_code == 202, r.text
            self.job_ids.append(r.json()["job_id"])

    def status(self, job_id: str) -> dict[str, Any]:
        r = self.client.get(
            f"{self.stack.base_url}/api/v1/vectorize/jobs/{job_id}", headers=self.headers
        )
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def wait_state(self, states: tuple[str, ...], *, count: int = 1, timeout: float = 90) -> None:
        """Until at least ``count`` jobs are in one of ``states`` (tolerating transient errors)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                seen = sum(self.status(j)["status"] in states for j in self.job_ids)
            except (httpx.HTTPError, AssertionError):
                seen = 0
            if seen >= count:
                return
            time.sleep(0.2)
        raise AssertionError(f"fewer than {count} jobs reached {states} in {timeout}s")

    def settle(self, timeout: float = 180) -> None:
        """Wait until every job is terminal; transient gateway errors are retried."""
        deadline = time.monotonic() + timeout
        pending = set(self.job_ids)
        while pending and time.monotonic() < deadline:
            for job_id in sorted(pending):
                try:
                    body = self.status(job_id)
                except (httpx.HTTPError, AssertionError):
                    continue
                if body["status"] in TERMINAL:
                    self.final[job_id] = body
                    pending.discard(job_id)
            time.sleep(0.3)
        assert not pending, f"jobs not terminal after {timeout}s: " + ", ".join(
            f"{j}={self.status(j)['status']}" for j in sorted(pending)
        )

    def verify(self, fault: str, injected: int = 1) -> dict[str, int]:
        """Every job terminal and correct; none lost or duplicated. Records the figures."""
        self.settle()
        listed: list[str] = []
        token = ""
        while True:
            r = self.client.get(
                f"{self.stack.base_url}/api/v1/vectorize/jobs",
                params={"page_size": 100, **({"page_token": token} if token else {})},
                headers=self.headers,
            )
            assert r.status_code == 200, r.text
            listed += [j["job_id"] for j in r.json()["jobs"]]
            token = r.json()["next_page_token"] or ""
            if not token:
                break
        assert len(listed) == len(set(listed)), "a job is listed twice"
        assert sorted(listed) == sorted(self.job_ids), "lost or extra jobs"
        completed = failed = 0
        for job_id, body in self.final.items():
            if body["status"] == "completed":
                completed += 1
                res = self.client.get(
                    f"{self.stack.base_url}/api/v1/vectorize/jobs/{job_id}/result",
                    headers=self.headers,
                )
                assert res.status_code == 200, res.text
                svg = self.client.get(res.json()["result"]["svg_url"])
                assert svg.status_code == 200, svg.text
                root = ET.fromstring(svg.content)
                assert root.tag.endswith("svg")
                paths = root.findall(".//{http://www.w3.org/2000/svg}path")
                assert len(paths) == res.json()["result"]["metrics"]["num_paths"] >= 1
            else:
                assert body["status"] == "failed", body
                failed += 1
                assert body["error"] and body["error"]["code"] and body["error"]["message"], body
        figures = {
            "submitted": len(self.job_ids),
            "completed": completed,
            "failed": failed,
            "lost": len(set(self.job_ids) - set(listed)),
        }
        record("fault", fault=fault, injected=injected, **figures)
        return figures


# --------------------------------------------------------------------------- processes


def proc_environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    out: dict[str, str] = {}
    for item in raw.split(b"\0"):
        k, sep, v = item.partition(b"=")
        if sep:
            out[k.decode(errors="replace")] = v.decode(errors="replace")
    return out


def worker_pids(stack: Stack) -> dict[str, int]:
    """Running worker processes of this stack: job id -> pid."""
    found: dict[str, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if b"supersvg.worker" not in cmd:
            continue
        env = proc_environ(int(entry.name))
        if env.get("SUPERSVG_SCHEDULER_ADDR") == stack.grpc_addr and "SUPERSVG_JOB_ID" in env:
            found[env["SUPERSVG_JOB_ID"]] = int(entry.name)
    return found


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def artifact_job_ids(stack: Stack, s3: Any = None) -> set[str]:
    """Job ids that still have artifacts in the stack's store."""
    if s3 is None:
        root = stack.data_dir / "artifacts" / "jobs"
        return {p.name for p in root.iterdir() if any(p.iterdir())} if root.exists() else set()
    names = {o.object_name for o in s3.client().list_objects(s3.bucket, "jobs/", recursive=True)}
    return {n.split("/")[1] for n in names}


def assert_retention_clean(stack: Stack, wl: Workload, s3: Any = None, timeout: float = 60) -> None:
    """Restart the scheduler with a 1 s retention: every artifact of the jobs is removed."""
    assert set(wl.job_ids) <= artifact_job_ids(stack, s3) | {
        j for j, b in wl.final.items() if b["status"] == "failed"
    }, "a completed job lost its artifacts before retention"
    stack.embedded.config.env.update(
        {
            "SUPERSVG_SCHEDULER_RETENTION_SECONDS": "1",
            "SUPERSVG_SCHEDULER_RETENTION_INTERVAL_SECONDS": "0.5",
            "SUPERSVG_SCHEDULER_ORPHAN_GRACE_SECONDS": "1",
        }
    )
    stack.restart_scheduler()
    deadline = time.monotonic() + timeout
    left: set[str] = set()
    while time.monotonic() < deadline:
        left = artifact_job_ids(stack, s3)
        if not left:
            break
        time.sleep(0.5)
    assert not left, f"artifacts left after retention: {sorted(left)}"
    for job_id in wl.job_ids:
        r = wl.client.get(f"{stack.base_url}/api/v1/vectorize/jobs/{job_id}", headers=wl.headers)
        assert r.status_code == 404 or r.json()["status"] == "expired", r.text


def unique_tenant(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"
