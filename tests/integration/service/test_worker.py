"""The worker entry point as a process, per docs/contracts.md, without a scheduler
(``SUPERSVG_SCHEDULER_ADDR`` unset: the kubectl-applied case)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw

from supersvg.common.storage import LocalArtifactStore


def _run(
    tmp_path: Path, job_id: str, config: dict, code: str = "", **extra: str
) -> subprocess.CompletedProcess:
    """The worker as a process; ``code``: Python to run instead of ``-m supersvg.worker``."""
    env = {
        "PATH": "/usr/bin:/bin",
        "SUPERSVG_STORAGE_BACKEND": "local",
        "SUPERSVG_STORAGE_ROOT": str(tmp_path / "artifacts"),
        "SUPERSVG_JOB_ID": job_id,
        "SUPERSVG_JOB_INPUT_KEY": f"jobs/{job_id}/input",
        "SUPERSVG_JOB_OUTPUT_PREFIX": f"jobs/{job_id}/",
        "SUPERSVG_JOB_CONFIG": json.dumps(config),
        "SUPERSVG_JOB_ATTEMPT": "1",
        "SUPERSVG_DEVICE": "cpu",
        "TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        **extra,
    }
    return subprocess.run(  # noqa: PLW1510 - the exit code is the assertion
        [sys.executable, "-c", code] if code else [sys.executable, "-m", "supersvg.worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_worker_writes_the_contract_artifacts(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    img = Image.new("RGB", (80, 64), "white")
    ImageDraw.Draw(img).rectangle((10, 10, 50, 40), fill="navy")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    store.put("jobs/job_w/input", buf.getvalue())
    proc = _run(tmp_path, "job_w", {"max_paths": 16, "num_iterations": 2, "output_format": "svg"})
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert store.list("jobs/job_w/") == [
        "jobs/job_w/input",
        "jobs/job_w/output.svg",
        "jobs/job_w/preview.png",
        "jobs/job_w/result.json",
    ]
    doc = json.loads(store.get("jobs/job_w/result.json"))
    assert doc["svg_key"] == "jobs/job_w/output.svg"
    assert doc["metrics"]["svg_bytes"] == len(store.get("jobs/job_w/output.svg"))
    assert 1 <= doc["metrics"]["num_paths"] <= 16
    preview = Image.open(io.BytesIO(store.get("jobs/job_w/preview.png")))
    assert preview.size == (80, 64), "the preview has the input's size"
    lines = [json.loads(x) for x in proc.stderr.splitlines() if x.startswith("{")]
    assert lines and all(x["trace_id"] == "4bf92f3577b34da6a3ce929d0e0e4736" for x in lines)


def test_a_fast_job_imports_no_torch(tmp_path: Path) -> None:
    # With torch imported, workers lingered for seconds after their final report.
    store = LocalArtifactStore(tmp_path / "artifacts")
    buf = io.BytesIO()
    Image.new("RGB", (32, 32), "navy").save(buf, "PNG")
    store.put("jobs/job_f/input", buf.getvalue())
    code = (
        "import sys; from supersvg.worker.__main__ import main; "
        "rc = main(); print(rc, 'torch' in sys.modules)"
    )
    config = {"max_paths": 4, "num_iterations": 0, "output_format": "svg"}
    proc = _run(tmp_path, "job_f", config, code=code)
    assert proc.stdout.split()[-2:] == ["0", "False"], proc.stderr[-2000:]
    assert "jobs/job_f/result.json" in store.list("jobs/job_f/")


def test_invalid_input_exits_2(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path / "artifacts")
    store.put("jobs/job_bad/input", b"this is not an image at all")
    assert _run(tmp_path, "job_bad", {"max_paths": 8}).returncode == 2
    assert not store.exists("jobs/job_bad/result.json")


def test_missing_environment_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(  # noqa: PLW1510 - the exit code is the assertion
        [sys.executable, "-m", "supersvg.worker"],
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "SUPERSVG_JOB_ID" in proc.stderr


def test_unreadable_client_certificate_is_a_retryable_failure(tmp_path: Path) -> None:
    # The pod's TLS files, not the job, are wrong: exit 1 (retried), with the reason logged.
    missing = tmp_path / "tls"
    proc = _run(
        tmp_path,
        "job_tls",
        {"max_paths": 8},
        SUPERSVG_SCHEDULER_ADDR="127.0.0.1:9",
        SUPERSVG_WORKER_TOKEN="t",
        SUPERSVG_WORKER_TLS_CA_FILE=str(missing / "ca.crt"),
        SUPERSVG_WORKER_TLS_CERT_FILE=str(missing / "tls.crt"),
        SUPERSVG_WORKER_TLS_KEY_FILE=str(missing / "tls.key"),
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert "cannot load the TLS client certificate" in proc.stderr
    assert "cannot read certificate files" in proc.stderr
