"""The `helm test` pod's script, taken from the rendered chart, run against the real service.

The chart's test pod checks the health endpoint and submits a tiny job with the bootstrap
token. Here the same script runs as a process against the embedded stack (gateway, scheduler
and local CPU workers on loopback), so the check it performs in a cluster is known to work.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.testing import helmkit
from tools.testing.kube.fixtures import CRD_PATH, start_kube_api
from tools.testing.stack import Stack, start_stack


@pytest.fixture(scope="module")
def smoke_script(tmp_path_factory: pytest.TempPathFactory) -> str:
    cluster = start_kube_api(tmp_path_factory.mktemp("kube"), with_crd=CRD_PATH.exists())
    try:
        helmkit.prepare_for_helm(cluster)
        helmkit.create_namespace(cluster, "ns")
        (release,) = helmkit.install(cluster, "ns", {})
    finally:
        cluster.stop()
    (hook,) = [h for h in release["hooks"] if "test" in h["events"]]
    (pod,) = helmkit.manifests(hook["manifest"])
    command = pod["spec"]["containers"][0]["command"]
    assert command[:2] == ["python", "-c"]
    return str(command[2])


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("stack") / ".data", tenants=("default",))
    try:
        yield s
    finally:
        s.stop()


def _run(script: str, base_url: str, token: str, wait: bool) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BASE_URL": base_url,
        "API_TOKEN": token,
        "WAIT_FOR_COMPLETION": "true" if wait else "false",
        "TIMEOUT_SECONDS": "120",
    }
    return subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        cwd=Path.cwd(),
        check=False,
    )


def test_smoke_script_submits_a_job_that_completes(smoke_script: str, stack: Stack) -> None:
    proc = _run(smoke_script, stack.base_url, stack.token, wait=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("health ok")
    assert lines[1].startswith("submitted job_")
    assert lines[2].startswith("completed ")


def test_smoke_script_fails_with_a_wrong_token(smoke_script: str, stack: Stack) -> None:
    proc = _run(smoke_script, stack.base_url, "ssvg_not-a-real-token", wait=False)
    assert proc.returncode != 0
    assert "HTTP 401" in proc.stderr
