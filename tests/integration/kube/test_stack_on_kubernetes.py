"""The API on Kubernetes: gateway -> scheduler (Kubernetes executor) -> VectorizeJob ->
operator -> pod (run by the test kubelet: the real worker) -> result through the API."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
from PIL import Image, ImageDraw

from supersvg.scheduler.executors.kubernetes import vectorizejob_name
from tools.testing.kube.fixtures import KubeCluster
from tools.testing.kube.jobs import Jobs
from tools.testing.kube.kubelet import Kubelet
from tools.testing.kube.operator import OperatorRunner, eventually
from tools.testing.stack import Stack, running_stack

JOBS = "/api/v1/vectorize/jobs"


def _png() -> bytes:
    img = Image.new("RGB", (64, 48), (250, 250, 245))
    draw = ImageDraw.Draw(img)
    draw.ellipse((6, 6, 40, 36), fill=(220, 40, 40))
    draw.rectangle((30, 20, 60, 44), fill=(30, 70, 200))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _submit(client: httpx.Client, stack: Stack, config: dict[str, Any]) -> str:
    r = client.post(
        f"{stack.base_url}{JOBS}",
        files={"image": ("in.png", _png())},
        data={"config": json.dumps(config)},
        headers=stack.headers(),
    )
    assert r.status_code == 202, r.text
    return str(r.json()["job_id"])


def _status(client: httpx.Client, stack: Stack, job_id: str) -> dict[str, Any]:
    r = client.get(f"{stack.base_url}{JOBS}/{job_id}", headers=stack.headers())
    assert r.status_code == 200, r.text
    return dict(r.json())


def _wait(client: httpx.Client, stack: Stack, job_id: str, states: tuple[str, ...]) -> dict:
    deadline = time.monotonic() + 90
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = _status(client, stack, job_id)
        if body["status"] in states:
            return body
        assert stack.embedded.failed() is None, stack.log("scheduler")[-3000:]
        time.sleep(0.2)
    raise AssertionError(
        f"{job_id} did not reach {states}: {body}\n{stack.log('scheduler')[-3000:]}"
    )


def test_api_jobs_run_as_vectorizejobs(
    kube_api: KubeCluster, operator_runner: OperatorRunner, jobs: Jobs, tmp_path: Path
) -> None:
    data_dir = tmp_path / "stack"
    artifacts = data_dir / "artifacts"  # the stack's local artifact store
    # What the operator mounts into worker pods: the same storage as the scheduler's.
    jobs.create_local_storage(artifacts)
    env = {
        "SUPERSVG_SCHEDULER_EXECUTOR": "kubernetes",
        "SUPERSVG_SCHEDULER_K8S_NAMESPACE": "default",
        "SUPERSVG_SCHEDULER_K8S_WATCH_TIMEOUT_SECONDS": "5",
        "SUPERSVG_SCHEDULER_CANCEL_GRACE_SECONDS": "0.3",
        "KUBECONFIG": str(kube_api.kubeconfig),
    }
    with running_stack(data_dir, env=env) as stack, httpx.Client(timeout=30) as client:
        # 1. Cancel through the API while the pod waits for a node (no kubelet yet).
        stuck = _submit(client, stack, {"max_paths": 8, "num_iterations": 0})
        stuck_vj = vectorizejob_name(stuck, 1)
        eventually(lambda: f"{stuck_vj}-1" in jobs.pod_names(), timeout=30, what="the pod")
        # The VectorizeJob's phase is mirrored into the job until the worker reports.
        eventually(
            lambda: _status(client, stack, stuck)["stage"].startswith("kubernetes pending"),
            timeout=30,
            what="the pending phase in the job's stage",
        )
        assert _status(client, stack, stuck)["status"] == "running"
        r = client.post(f"{stack.base_url}{JOBS}/{stuck}/cancel", headers=stack.headers())
        assert r.status_code in (200, 202), r.text
        assert _wait(client, stack, stuck, ("cancelled", "failed"))["status"] == "cancelled"
        assert jobs.status(stuck_vj)["phase"] == "Cancelled"
        assert jobs.get(stuck_vj)["spec"]["cancel"] is True

        # 2. A job that runs: the kubelet starts the real worker in the pod's environment.
        kubelet = Kubelet(kube_api, tmp_path / "pods").start()
        try:
            job_id = _submit(client, stack, {"max_paths": 12, "num_iterations": 0})
            body = _wait(client, stack, job_id, ("completed", "failed"))
            pod_log = kubelet.log(f"{vectorizejob_name(job_id, 1)}-1")
            assert body["status"] == "completed", (body, pod_log[-2000:])
            jobs.wait_phase(vectorizejob_name(job_id, 1), "Succeeded", timeout=30)
        finally:
            kubelet.stop()
        assert body["progress"] == 100
        name = vectorizejob_name(job_id, 1)
        # The API answers from the worker's final report; the pod ends just after it.
        jobs.wait_phase(name, "Succeeded", timeout=30)
        vj = jobs.get(name)
        assert vj["spec"]["jobId"] == job_id
        assert vj["metadata"]["annotations"]["supersvg.io/traceparent"].startswith("00-")
        # The cancelled job's pod was deleted before any node could run it.
        assert kubelet.started == [f"{name}-1"]
        result = client.get(f"{stack.base_url}{JOBS}/{job_id}/result", headers=stack.headers())
        assert result.status_code == 200, result.text
        svg = client.get(result.json()["result"]["svg_url"])
        assert svg.status_code == 200 and b"<svg" in svg.content
