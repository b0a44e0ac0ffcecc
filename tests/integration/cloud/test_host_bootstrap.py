"""The host bootstrap's non-GPU steps in a throwaway folder, the scripts it writes (monitor,
checkpoint sync to a real S3 server, stop-and-sync), and the spot interruption watcher
against an instance metadata server on loopback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest

from supersvg.cloud.host import bootstrap_script, watch_spot
from tools.testing.servers import S3Server, free_port, start_s3_server

REPO = Path(__file__).resolve().parents[3]
VENV = Path(sys.executable).parent.parent
SHELLCHECK = shutil.which("shellcheck", path=str(Path(sys.executable).parent))


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    server: S3Server = start_s3_server(free_port(), tmp_path_factory.mktemp("moto"))
    env = {
        "AWS_ENDPOINT_URL": server.url,
        "AWS_ACCESS_KEY_ID": server.access_key,
        "AWS_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_DEFAULT_REGION": server.region,
    }
    try:
        yield env
    finally:
        server.stop()


def _head() -> str:
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def test_the_shipped_script_is_the_one_in_the_package() -> None:
    script = bootstrap_script()
    assert script.startswith("#!/usr/bin/env bash") and "step_dataset" in script
    assert SHELLCHECK
    proc = subprocess.run(
        [SHELLCHECK, "-s", "bash", "-"], input=script, capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stdout


def test_bootstrap_non_gpu_steps_in_a_throwaway_folder(
    tmp_path: Path, s3_env: dict[str, str]
) -> None:
    script = tmp_path / "bootstrap.sh"
    script.write_text(bootstrap_script())
    work = tmp_path / "work"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "WORKDIR": str(work),
        "REPO_URL": str(REPO),
        "REPO_REF": _head(),
        # The host tools (supersvg-datasets, supersvg-cloud) of this environment; a host
        # without them gets a venv with both (the light-install test covers that install).
        "TOOLS_VENV": str(VENV),
        "RUN_NAME": "r1",
        "S3_BUCKET": "ckpts",
        "STEPS": "repo tools dataset scripts",
    }
    proc = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "host tools present" in proc.stdout and "done: repo tools dataset scripts" in proc.stdout
    assert (work / "supersvg" / "compose.yaml").is_file()
    images = sorted((work / "data" / "test" / "test_class").iterdir())
    assert len(images) == 300 and images[0].name == "test_000.jpg"
    for name in ("train_supersvg.sh", "monitor_training.sh", "sync_checkpoints.sh",
                 "stop_and_sync.sh"):  # fmt: skip
        written = work / "bin" / name
        assert os.access(written, os.X_OK), name
        check = subprocess.run(
            [str(SHELLCHECK), str(written)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, (name, check.stdout)
    # Re-running a step skips what is in place: the dataset is verified, not rebuilt.
    again = subprocess.run(
        ["bash", str(script)], env={**env, "STEPS": "dataset"}, capture_output=True, text=True,
        timeout=600, check=False,
    )  # fmt: skip
    assert again.returncode == 0, again.stderr

    # The monitor: no run yet, then a run with metrics and a checkpoint.
    monitor = subprocess.run(
        [str(work / "bin" / "monitor_training.sh")], capture_output=True, text=True, check=False
    )
    assert monitor.returncode == 0, monitor.stderr
    assert "run r1" in monitor.stdout and "checkpoint: none yet" in monitor.stdout
    assert "GPU" in monitor.stdout
    run = work / "workspace" / "checkpoints" / "r1"
    run.mkdir(parents=True)
    rows = "\n".join(f"{s},{1.0 / s:.4f},0.001" for s in range(1, 8))
    (run / "metrics.csv").write_text("step,loss,lr\n" + rows + "\n")
    (run / "last.pt").write_bytes(b"checkpoint bytes")
    monitor = subprocess.run(
        [str(work / "bin" / "monitor_training.sh")], capture_output=True, text=True, check=True
    )
    assert "steps: 7" in monitor.stdout and "7: 0.1429" in monitor.stdout
    assert "3: 0.3333" in monitor.stdout and "2: 0.5000" not in monitor.stdout  # the last 5
    assert "last.pt saved" in monitor.stdout and "16 bytes" in monitor.stdout

    # Checkpoint sync to S3 (moto): new files go up, unchanged ones stay.
    boto3.client("s3", **_client_kw(s3_env)).create_bucket(Bucket="ckpts")
    host_env = {**os.environ, **s3_env}
    sync = work / "bin" / "sync_checkpoints.sh"
    first = subprocess.run([str(sync)], env=host_env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    assert "2 uploaded, 0 unchanged" in first.stdout
    (run / "last.pt").write_bytes(b"a newer checkpoint")
    second = subprocess.run([str(sync)], env=host_env, capture_output=True, text=True, check=True)
    assert "1 uploaded, 1 unchanged" in second.stdout
    body = (
        boto3.client("s3", **_client_kw(s3_env))
        .get_object(Bucket="ckpts", Key="r1/checkpoints/last.pt")["Body"]
        .read()
    )
    assert body == b"a newer checkpoint"

    # The spot handler: stopping training needs Docker (absent here, so it is reported and
    # skipped); the checkpoint is synced all the same.
    (run / "last.pt").write_bytes(b"the checkpoint at the notice")
    stop = subprocess.run(
        [str(work / "bin" / "stop_and_sync.sh")], env=host_env, capture_output=True, text=True,
        check=False, timeout=120,
    )  # fmt: skip
    assert stop.returncode == 0, stop.stdout + stop.stderr
    assert "1 uploaded" in stop.stdout


def _client_kw(env: dict[str, str]) -> dict[str, str]:
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


class _Metadata(BaseHTTPRequestHandler):
    """IMDSv2: PUT /latest/api/token, then GETs that must carry the token."""

    notice: bytes | None = None
    token = b"imds-token"
    seen_tokens: list[str | None] = []  # noqa: RUF012 - shared by the handler instances

    def do_PUT(self) -> None:
        assert self.path == "/latest/api/token"
        self.send_response(200)
        self.send_header("Content-Length", str(len(self.token)))
        self.end_headers()
        self.wfile.write(self.token)

    def do_GET(self) -> None:
        type(self).seen_tokens.append(self.headers.get("X-aws-ec2-metadata-token"))
        if self.headers.get("X-aws-ec2-metadata-token") != self.token.decode():
            self.send_response(401)
            self.end_headers()
            return
        body = type(self).notice
        if self.path != "/latest/meta-data/spot/instance-action" or body is None:
            self.send_response(404)
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_spot_watcher_runs_the_handler_once_on_a_notice() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Metadata)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    calls: list[str] = []
    said: list[str] = []

    def handler(action: str) -> int:
        calls.append(action)
        return 0

    try:
        _Metadata.notice = None
        assert (
            watch_spot(handler, base_url=url, interval=0.01, max_polls=3, say=said.append) is None
        )
        assert calls == [] and _Metadata.seen_tokens[-1] == "imds-token"
        _Metadata.notice = b'{"action": "terminate", "time": "2026-12-02T17:00:00Z"}'
        assert watch_spot(handler, base_url=url, interval=0.01, max_polls=3, say=said.append) == (
            "terminate"
        )
        assert calls == ["terminate"]
        assert any("spot interruption notice (terminate)" in m for m in said)
    finally:
        server.shutdown()
        server.server_close()
    # A metadata service that is down is reported, and polling goes on.
    said.clear()
    assert watch_spot(handler, base_url=url, interval=0.01, max_polls=2, say=said.append) is None
    assert len(said) == 2 and all("metadata service" in m for m in said)


def test_native_runtime_trains_on_the_host_in_the_background(tmp_path: Path) -> None:
    """RUNTIME=native (RunPod / Vast.ai pods): train.sh from a venv, no Docker."""
    script = tmp_path / "bootstrap.sh"
    script.write_text(bootstrap_script())
    work = tmp_path / "work"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
        "WORKDIR": str(work), "REPO_URL": str(REPO), "REPO_REF": _head(),
        "RUNTIME": "native", "TOOLS_VENV": str(VENV), "TRAIN_VENV": str(VENV),
        "STEPS": "docker repo tools image dataset scripts train", "RUN_NAME": "native",
        "EPOCHS": "1", "BATCH_SIZE": "2", "MODEL_CONFIG": "tiny", "DEVICE": "cpu",
        "SAMPLES": "1", "SAMPLE_ARGS": "--iterations 0 --max-paths 16",
        "TRAIN_ARGS": "--max-steps 2 --max-images 8 --threads 1 --checkpoint-every 1000",
    }  # fmt: skip
    proc = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "native runtime: no Docker needed" in proc.stdout
    assert "trainer present" in proc.stdout and "training runs in the background" in proc.stdout
    pid = int((work / "workspace" / "logs" / "native.pid").read_text())
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and Path(f"/proc/{pid}").exists():
        time.sleep(0.5)
    log = (work / "workspace" / "logs" / "native.log").read_text()
    assert "done: checkpoint" in log, log[-2000:]
    run = work / "workspace" / "checkpoints" / "native"
    assert (run / "last.pt").is_file()
    assert (run / "metrics.csv").read_text().count("\n") == 3  # header and 2 steps
    assert (work / "workspace" / "output" / "native" / "test_000.svg").is_file()
    stop = subprocess.run(
        [str(work / "bin" / "stop_and_sync.sh")], capture_output=True, text=True, check=False
    )
    assert stop.returncode == 0 and "no S3_BUCKET" in stop.stdout
