"""Served models end to end on one machine: ``supersvg models push/list`` into a real S3
server on loopback, and the worker process fetching, verifying and running the model (or
failing the job with MODEL_UNAVAILABLE when it is missing, pinned to another digest, or
corrupt)."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from supersvg.api.jobs import ExitCode
from supersvg.api.jobs.models import ModelRef, manifest_key, model_key
from supersvg.worker.models import ModelUnavailable, fetch_model
from tools.testing.checkpoints import train_tiny_checkpoint
from tools.testing.images import shapes_png_bytes

SUPERSVG = [str(Path(sys.executable).parent / "supersvg")]


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny coarse model trained here for a few steps (seconds on one CPU thread)."""
    return train_tiny_checkpoint(tmp_path_factory.mktemp("train"))


def _cli(s3: Any, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", **s3.storage_env()}
    return subprocess.run(  # noqa: PLW1510 - the exit code is the assertion
        [*SUPERSVG, "models", *args], env=env, capture_output=True, text=True, timeout=120
    )


def _worker(s3: Any, job_id: str, cache: Path, **model: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": "/usr/bin:/bin",
        **s3.storage_env(),
        "SUPERSVG_JOB_ID": job_id,
        "SUPERSVG_JOB_INPUT_KEY": f"jobs/{job_id}/input",
        "SUPERSVG_JOB_OUTPUT_PREFIX": f"jobs/{job_id}/",
        "SUPERSVG_JOB_CONFIG": json.dumps({"max_paths": 16, "num_iterations": 0}),
        "SUPERSVG_DEVICE": "cpu",
        "SUPERSVG_WORKER_MODEL_CACHE_DIR": str(cache),
        **model,
    }
    return subprocess.run(  # noqa: PLW1510 - the exit code is the assertion
        [sys.executable, "-m", "supersvg.worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_push_list_and_a_job_that_runs_the_model(checkpoint: Path, s3: Any, tmp_path: Path) -> None:
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    pushed = _cli(s3, "push", "tiny-1", str(checkpoint))
    assert pushed.returncode == 0, pushed.stderr
    manifest = json.loads(pushed.stdout)
    assert manifest["sha256"] == digest and manifest["size"] == checkpoint.stat().st_size
    assert manifest["checkpoint"]["config"] == "tiny"
    assert manifest["checkpoint"]["stages"] == ["coarse"] and manifest["checkpoint"]["step"] == 3
    assert f"vectorizer.model.sha256={digest}" in pushed.stderr
    store = s3.store()
    assert store.get(model_key("tiny-1")) == checkpoint.read_bytes()
    assert json.loads(store.get(manifest_key("tiny-1"))) == manifest
    listed = _cli(s3, "list", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == [manifest]
    assert f"tiny-1\tsha256:{digest}" in _cli(s3, "list").stdout

    store.put("jobs/job_m/input", shapes_png_bytes())
    cache = tmp_path / "cache"
    proc = _worker(s3, "job_m", cache, SUPERSVG_MODEL="tiny-1", SUPERSVG_MODEL_SHA256=digest)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(store.get("jobs/job_m/result.json"))
    assert doc["metrics"]["model"] == "tiny-1" and doc["metrics"]["model_sha256"] == digest
    assert doc["details"]["coarse"] == "learned"
    assert (cache / f"{digest}.pt").read_bytes() == checkpoint.read_bytes()
    # Without a model the same job runs the analytic stage and says so.
    store.put("jobs/job_a/input", shapes_png_bytes())
    assert _worker(s3, "job_a", cache).returncode == 0
    plain = json.loads(store.get("jobs/job_a/result.json"))
    assert plain["metrics"]["model"] == "" and plain["details"]["coarse"] == "analytic"


def test_push_refuses_what_the_worker_could_not_load(
    checkpoint: Path, s3: Any, tmp_path: Path
) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a checkpoint")
    proc = _cli(s3, "push", "junk", str(junk))
    assert proc.returncode == 2 and "not a readable checkpoint" in proc.stderr
    proc = _cli(s3, "push", "Bad/Name", str(checkpoint))
    assert proc.returncode == 2 and "invalid model name" in proc.stderr
    proc = _cli(s3, "push", "gone", str(tmp_path / "missing.pt"))
    assert proc.returncode == 2 and "no such file" in proc.stderr
    assert s3.store().list("models/") == []


def test_missing_pinned_elsewhere_or_corrupt_models_fail_the_job(
    checkpoint: Path, s3: Any, tmp_path: Path
) -> None:
    assert _cli(s3, "push", "tiny-1", str(checkpoint)).returncode == 0
    store = s3.store()
    store.put("jobs/job_x/input", shapes_png_bytes())
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()

    missing = _worker(s3, "job_x", tmp_path / "c1", SUPERSVG_MODEL="nope")
    assert missing.returncode == ExitCode.MODEL_UNAVAILABLE, missing.stderr[-2000:]
    assert "model 'nope' is not published" in missing.stderr
    other = _worker(
        s3, "job_x", tmp_path / "c2", SUPERSVG_MODEL="tiny-1", SUPERSVG_MODEL_SHA256="0" * 64
    )
    assert other.returncode == ExitCode.MODEL_UNAVAILABLE
    assert f"the published checkpoint is sha256:{digest}" in other.stderr

    data = bytearray(checkpoint.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one byte changed after the push
    store.put(model_key("tiny-1"), bytes(data))
    corrupt = _worker(s3, "job_x", tmp_path / "c3", SUPERSVG_MODEL="tiny-1")
    assert corrupt.returncode == ExitCode.MODEL_UNAVAILABLE
    assert "checkpoint is corrupt" in corrupt.stderr
    assert not store.exists("jobs/job_x/result.json")
    assert not (tmp_path / "c3").exists() or not list((tmp_path / "c3").iterdir())
    with pytest.raises(ModelUnavailable, match="corrupt"):
        fetch_model(store, ModelRef("tiny-1", digest), tmp_path / "c4")
