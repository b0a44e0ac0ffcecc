"""Serving a trained model on Kubernetes: a tiny checkpoint trained here is pushed to the
S3 server with ``supersvg models push``, selected through the chart's values (the
scheduler's model variables are taken from the rendered Deployment), and a job goes
gateway -> scheduler -> VectorizeJob (``spec.model``) -> operator -> pod (the real worker,
run by the test kubelet) and names the model in its result metrics. The same checkpoint
with one byte changed in the store fails the next job with MODEL_UNAVAILABLE."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from supersvg.api.jobs.models import model_key
from supersvg.scheduler.executors.kubernetes import vectorizejob_name
from tools.testing import helmkit
from tools.testing.checkpoints import train_tiny_checkpoint
from tools.testing.images import shapes_png_bytes
from tools.testing.kube.fixtures import CRD_PATH, KubeCluster, start_kube_api
from tools.testing.kube.jobs import Jobs
from tools.testing.kube.kubelet import Kubelet
from tools.testing.kube.operator import OperatorRunner
from tools.testing.stack import Stack, running_stack

JOBS = "/api/v1/vectorize/jobs"
MODEL_VARS = ("SUPERSVG_SCHEDULER_MODEL", "SUPERSVG_SCHEDULER_MODEL_SHA256")


def _scheduler_model_env(workdir: Path, values: dict[str, Any]) -> dict[str, str]:
    """Render the chart with ``values`` (helm install into a mock API of its own) and
    return the model variables of the scheduler Deployment's container."""
    workdir.mkdir(parents=True, exist_ok=True)
    cluster = start_kube_api(workdir, with_crd=CRD_PATH.exists())
    try:
        helmkit.prepare_for_helm(cluster)
        helmkit.create_namespace(cluster, "ns")
        (release,) = helmkit.install(cluster, "ns", values)
    finally:
        cluster.stop()
    (deployment,) = [
        d
        for d in helmkit.manifests(release["manifest"])
        if d["kind"] == "Deployment" and d["metadata"]["name"] == "supersvg-scheduler"
    ]
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    return {v["name"]: v["value"] for v in env if v["name"] in MODEL_VARS}


def _node(cluster: KubeCluster, workdir: Path) -> Kubelet:
    """A kubelet whose pods start with an empty model cache, as a pod's own /tmp does."""
    env = {"SUPERSVG_WORKER_MODEL_CACHE_DIR": str(workdir / "model-cache")}
    return Kubelet(cluster, workdir / "pods", extra_env=env).start()


def _wait(client: httpx.Client, stack: Stack, job_id: str, kubelet: Kubelet) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = client.get(f"{stack.base_url}{JOBS}/{job_id}", headers=stack.headers())
        body = r.json()
        if body["status"] in ("completed", "failed", "cancelled"):
            return body
        assert stack.embedded.failed() is None, stack.log("scheduler")[-3000:]
        time.sleep(0.3)
    pod_log = kubelet.log(f"{vectorizejob_name(job_id, 1)}-1")
    raise AssertionError(f"{job_id} did not finish: {body}\n{pod_log[-3000:]}")


def test_a_pushed_model_is_selected_by_the_chart_and_named_in_the_result(
    kube_api: KubeCluster, operator_runner: OperatorRunner, jobs: Jobs, s3: Any, tmp_path: Path
) -> None:
    # 1. Train and publish (the documented CLI, against the S3 server on loopback).
    checkpoint = train_tiny_checkpoint(tmp_path / "train")
    digest = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    pushed = subprocess.run(  # noqa: PLW1510 - the exit code is asserted
        [str(Path(sys.executable).parent / "supersvg"), "models", "push", "tiny-e2e",
         str(checkpoint)],
        env={"PATH": "/usr/bin:/bin", **s3.storage_env()}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert pushed.returncode == 0, pushed.stderr
    assert json.loads(pushed.stdout)["sha256"] == digest

    # 2. Select it through the chart's values, as the docs say.
    values = {"vectorizer": {"model": {"name": "tiny-e2e", "sha256": digest}}}
    model_env = _scheduler_model_env(tmp_path / "render", values)
    assert model_env == {MODEL_VARS[0]: "tiny-e2e", MODEL_VARS[1]: digest}

    # 3. The stack on the mock cluster; worker pods get the same S3 storage.
    jobs.core.create_namespaced_config_map(
        "default", {"metadata": {"name": "supersvg-storage"}, "data": s3.storage_env()}
    )
    jobs.core.create_namespaced_secret("default", {"metadata": {"name": "supersvg-storage"}})
    env = {
        "SUPERSVG_SCHEDULER_EXECUTOR": "kubernetes",
        "SUPERSVG_SCHEDULER_K8S_NAMESPACE": "default",
        "SUPERSVG_SCHEDULER_K8S_WATCH_TIMEOUT_SECONDS": "5",
        "KUBECONFIG": str(kube_api.kubeconfig),
        **model_env,
    }
    store = s3.store()
    with (
        running_stack(tmp_path / "stack", s3=s3, env=env) as stack,
        httpx.Client(timeout=30) as client,
    ):
        node = _node(kube_api, tmp_path / "node-1")
        try:
            job_id = stack.submit(
                client, {"max_paths": 12, "num_iterations": 0}, shapes_png_bytes()
            )
            body = _wait(client, stack, job_id, node)
            pod = f"{vectorizejob_name(job_id, 1)}-1"
            assert body["status"] == "completed", (body, node.log(pod)[-3000:])
            jobs.wait_phase(vectorizejob_name(job_id, 1), "Succeeded", timeout=30)
        finally:
            node.stop()
        vj = jobs.get(vectorizejob_name(job_id, 1))
        assert vj["spec"]["model"] == {"name": "tiny-e2e", "sha256": digest}
        pod_env = {e.name: e.value for e in jobs.pod(pod).spec.containers[0].env}
        assert pod_env["SUPERSVG_MODEL"] == "tiny-e2e"
        assert pod_env["SUPERSVG_MODEL_SHA256"] == digest
        result = client.get(f"{stack.base_url}{JOBS}/{job_id}/result", headers=stack.headers())
        assert result.status_code == 200, result.text
        metrics = result.json()["result"]["metrics"]
        assert metrics["model"] == "tiny-e2e" and metrics["model_sha256"] == digest
        details = json.loads(store.get(f"jobs/{job_id}/result.json"))["details"]
        assert details["coarse"] == "learned"

        # 4. One byte of the published checkpoint changes: the next job fails, clearly,
        # once (no retry), and nothing falls back to the analytic stage.
        data = bytearray(store.get(model_key("tiny-e2e")))
        data[len(data) // 2] ^= 0xFF
        store.put(model_key("tiny-e2e"), bytes(data))
        node = _node(kube_api, tmp_path / "node-2")
        try:
            bad = stack.submit(client, {"max_paths": 12, "num_iterations": 0}, shapes_png_bytes())
            body = _wait(client, stack, bad, node)
            # The API answers from the worker's report; the pod ends just after it.
            jobs.wait_phase(vectorizejob_name(bad, 1), "Failed", timeout=30)
        finally:
            node.stop()
        assert body["status"] == "failed", body
        assert body["error"]["code"] == "MODEL_UNAVAILABLE", body
        assert "checkpoint is corrupt" in body["error"]["message"]
        assert digest in body["error"]["message"]
        assert not store.exists(f"jobs/{bad}/result.json")
        status = jobs.status(vectorizejob_name(bad, 1))
        assert status["exitCode"] == 4 and status["reason"] == "ModelUnavailable", status
        assert not jobs.exists(vectorizejob_name(bad, 2))
