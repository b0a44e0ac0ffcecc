"""The operator as users run it: the ``supersvg-operator`` process, and kubectl."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tools.testing.kube.fixtures import KubeCluster
from tools.testing.kube.jobs import Jobs
from tools.testing.kube.operator import TEST_ENV, OperatorRunner, eventually
from tools.testing.servers import free_port

ROOT = Path(__file__).resolve().parents[3]
OPERATOR = Path(sys.executable).with_name("supersvg-operator")
KUBECTL = shutil.which("kubectl")


def test_operator_process_serves_liveness_metrics_and_json_logs(
    kube_api: KubeCluster, jobs: Jobs, tmp_path: Path
) -> None:
    health, metrics = free_port(), free_port()
    env = {
        **os.environ,
        **TEST_ENV,
        "KUBECONFIG": str(kube_api.kubeconfig),
        "SUPERSVG_OPERATOR_HEALTH_PORT": str(health),
        "SUPERSVG_OPERATOR_METRICS_PORT": str(metrics),
        "SUPERSVG_OPERATOR_LOG_FORMAT": "json",
    }
    log = (tmp_path / "operator.log").open("w+b")
    proc = subprocess.Popen([str(OPERATOR)], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:

        def healthy() -> bool:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{health}/healthz", timeout=1) as r:
                    return r.status == 200
            except OSError:
                assert proc.poll() is None, "the operator exited"
                return False

        eventually(healthy, timeout=30, what="the liveness endpoint")
        jobs.create("cli")
        jobs.wait_pod("cli-1")
        jobs.pods.exit("cli-1", 0)
        jobs.wait_phase("cli", "Succeeded")
        text = urllib.request.urlopen(f"http://127.0.0.1:{metrics}/metrics").read().decode()
        assert "supersvg_operator_pods_created_total 1" in text
    finally:
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=30)
    assert code == 0
    log.seek(0)
    lines = [json.loads(line) for line in log.read().decode().splitlines() if line.strip()]
    assert lines, "the operator logged nothing"
    assert all({"timestamp", "severity", "logger", "message"} <= set(rec) for rec in lines)
    assert any("created pod cli-1" in rec["message"] for rec in lines)


def test_operator_process_fails_fast_without_configuration(kube_api: KubeCluster) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUPERSVG_OPERATOR_")}
    env["KUBECONFIG"] = str(kube_api.kubeconfig)
    result = subprocess.run(
        [str(OPERATOR)], check=False, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert "SUPERSVG_OPERATOR_WORKER_IMAGE" in result.stderr


@pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")
def test_kubectl_apply_example_and_get_vj(
    kube_api: KubeCluster, jobs: Jobs, operator_runner: OperatorRunner
) -> None:
    assert KUBECTL is not None
    base = [KUBECTL, "--kubeconfig", str(kube_api.kubeconfig)]

    def kubectl(*args: str) -> str:
        result = subprocess.run(
            [*base, *args], check=False, capture_output=True, text=True, timeout=60, cwd=ROOT
        )
        assert result.returncode == 0, result.stderr
        assert "Warning" not in result.stderr, result.stderr
        return result.stdout

    # Client-side validation needs the server's OpenAPI document, which the mock lacks;
    # the CRD schema is checked by the mock API itself (and by the unit tests).
    out = kubectl("apply", "-f", "examples/vectorizejob.yaml", "--validate=false")
    assert out.strip() == "vectorizejob.supersvg.io/logo created"
    jobs.wait_pod("logo-1")
    jobs.pods.run("logo-1")
    jobs.wait_phase("logo", "Running")
    table = kubectl("get", "vj")
    header, row = table.splitlines()[:2]
    assert header.split() == ["NAME", "PHASE", "PROGRESS", "PATHS", "AGE"]
    assert row.split()[:3] == ["logo", "Running", "0"]
    jobs.pods.exit("logo-1", 0, message='{"num_paths": 240}')
    jobs.wait_phase("logo", "Succeeded")
    row = kubectl("get", "vectorizejobs", "logo", "--no-headers").split()
    assert row[:4] == ["logo", "Succeeded", "100", "240"]
    # Re-applying the unchanged file is a no-op, as with a real API server.
    assert "unchanged" in kubectl("apply", "-f", "examples/vectorizejob.yaml", "--validate=false")
    described = json.loads(kubectl("get", "vj", "logo", "-o", "json"))
    assert described["status"]["result"]["svgKey"] == "results/logo/output.svg"
