"""The same stack on PostgreSQL + S3 (presigned URLs), and retention expiry."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx

from tools.testing.service import FAST, assert_error, submit, wait_status
from tools.testing.stack import running_stack

JOBS = "/api/v1/vectorize/jobs"


def test_postgres_and_s3_life_cycle(
    data_dir: Path, postgres_dsn: str, s3, client: httpx.Client
) -> None:
    with running_stack(data_dir, postgres_dsn=postgres_dsn, s3=s3) as stack:
        r = submit(client, stack, {"max_paths": 16, "num_iterations": 3})
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        assert s3.client().stat_object(s3.bucket, f"jobs/{job_id}/input").size > 0
        assert wait_status(client, stack, job_id, ("completed", "failed"))["status"] == (
            "completed"
        )
        result = client.get(
            f"{stack.base_url}{JOBS}/{job_id}/result", headers=stack.headers()
        ).json()["result"]
        svg_url = result["svg_url"]
        parts = urlsplit(svg_url)
        assert parts.netloc == s3.endpoint, "a presigned URL straight to object storage"
        assert parts.path == f"/{s3.bucket}/jobs/{job_id}/output.svg"
        query = parse_qs(parts.query)
        assert query["X-Amz-Expires"] == ["3600"]
        assert "X-Amz-Signature" in query
        svg = client.get(svg_url)
        assert svg.status_code == 200 and b"<svg" in svg.content
        keys = sorted(
            o.object_name
            for o in s3.client().list_objects(s3.bucket, prefix=f"jobs/{job_id}/", recursive=True)
        )
        assert keys == [
            f"jobs/{job_id}/{n}" for n in ("input", "output.svg", "preview.png", "result.json")
        ]


def test_retention_expires_jobs_and_artifacts(data_dir: Path, client: httpx.Client) -> None:
    env = {
        "SUPERSVG_SCHEDULER_RETENTION_SECONDS": "3",
        "SUPERSVG_SCHEDULER_RETENTION_INTERVAL_SECONDS": "0.5",
    }
    with running_stack(data_dir, env=env) as stack:
        job_id = submit(client, stack, FAST).json()["job_id"]
        assert wait_status(client, stack, job_id, ("completed", "failed"))["status"] == (
            "completed"
        )
        url = client.get(f"{stack.base_url}{JOBS}/{job_id}/result", headers=stack.headers()).json()[
            "result"
        ]["svg_url"]
        folder = stack.data_dir / "artifacts" / "jobs" / job_id
        assert (folder / "output.svg").exists()
        wait_status(client, stack, job_id, ("expired",), timeout=20)
        assert not folder.exists(), "artifacts are deleted with the job"
        assert_error(
            client.get(f"{stack.base_url}{JOBS}/{job_id}/result", headers=stack.headers()),
            409,
            "JOB_EXPIRED",
        )
        assert_error(client.get(url), 404, "NOT_FOUND")
        # After twice the retention the row itself is removed.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            r = client.get(f"{stack.base_url}{JOBS}/{job_id}", headers=stack.headers())
            if r.status_code == 404:
                break
            time.sleep(0.3)
        assert_error(r, 404, "JOB_NOT_FOUND")
