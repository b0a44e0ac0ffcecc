"""Serving a model in embedded mode, as docs/training.md says: the job of a model not yet
published fails with MODEL_UNAVAILABLE (never the analytic stage); once ``supersvg models
push`` has put it in the stack's artifact folder, the next job runs it and names it."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from tools.testing.checkpoints import train_tiny_checkpoint
from tools.testing.images import shapes_png_bytes
from tools.testing.stack import Stack, running_stack

JOBS = "/api/v1/vectorize/jobs"


def _run_job(client: httpx.Client, stack: Stack) -> dict[str, Any]:
    job_id = stack.submit(client, {"max_paths": 12, "num_iterations": 0}, shapes_png_bytes())
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = client.get(f"{stack.base_url}{JOBS}/{job_id}", headers=stack.headers()).json()
        if body["status"] in ("completed", "failed"):
            return dict(body)
        time.sleep(0.3)
    raise AssertionError(f"{job_id} did not finish\n{stack.worker_logs(job_id)[-3000:]}")


def test_a_model_is_served_once_pushed_and_its_absence_fails_jobs(tmp_path: Path) -> None:
    checkpoint = train_tiny_checkpoint(tmp_path / "train")
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    data_dir = tmp_path / ".data"
    env = {"SUPERSVG_SCHEDULER_MODEL": "tiny-local"}
    with running_stack(data_dir, env=env) as stack, httpx.Client(timeout=30) as client:
        missing = _run_job(client, stack)
        assert missing["status"] == "failed", missing
        assert missing["error"]["code"] == "MODEL_UNAVAILABLE"
        assert "model 'tiny-local' is not published" in missing["error"]["message"]

        pushed = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
            [str(Path(sys.executable).parent / "supersvg"), "models", "push", "tiny-local",
             str(checkpoint)],
            env={"PATH": "/usr/bin:/bin", "SUPERSVG_STORAGE_ROOT": str(data_dir / "artifacts")},
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert pushed.returncode == 0, pushed.stderr
        served = _run_job(client, stack)
        assert served["status"] == "completed", served
        result = client.get(
            f"{stack.base_url}{JOBS}/{served['job_id']}/result", headers=stack.headers()
        ).json()["result"]
        assert result["metrics"]["model"] == "tiny-local"
        assert result["metrics"]["model_sha256"] == digest
