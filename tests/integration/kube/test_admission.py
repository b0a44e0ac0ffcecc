"""Admission on the cluster: gateway -> scheduler (Kubernetes executor, capacity 4) ->
VectorizeJobs -> operator -> pods run by the test kubelet (the real worker).

A sampler lists the mock API the whole time: never more than 4 unfinished VectorizeJobs or
running pods; the high-priority job overtakes the queued normal ones; the queue cap answers
503 CAPACITY_EXHAUSTED; worker pods carry the PriorityClass of their job's priority and the
Kueue queue label.
"""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import kubernetes
import pytest
from PIL import Image, ImageDraw

from supersvg.api.jobs.vectorizejob import (
    GROUP,
    LABEL_KUEUE_QUEUE,
    PLURAL,
    PRIORITY_CLASSES,
    TERMINAL_PHASES,
    VERSION,
)
from supersvg.scheduler.executors.kubernetes import vectorizejob_name
from tools.testing.kube.fixtures import KubeCluster
from tools.testing.kube.jobs import Jobs
from tools.testing.kube.kubelet import Kubelet
from tools.testing.kube.operator import OperatorRunner, eventually
from tools.testing.service import assert_error
from tools.testing.stack import Stack, running_stack

# 50 real worker processes through the operator and the test kubelet: minutes on a loaded
# machine (about 1.5 s of CPU each at best).
pytestmark = pytest.mark.timeout(1800)

JOBS = "/api/v1/vectorize/jobs"
CAPACITY = 4
TOTAL = 50
QUEUE_CAP = TOTAL - CAPACITY  # the 51st submit finds the queue full


def _png() -> bytes:
    img = Image.new("RGB", (48, 40), (250, 250, 245))
    draw = ImageDraw.Draw(img)
    draw.ellipse((4, 4, 30, 30), fill=(220, 40, 40))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _post(client: httpx.Client, stack: Stack, priority: str) -> httpx.Response:
    config = {"max_paths": 8, "num_iterations": 0, "priority": priority}
    return client.post(
        f"{stack.base_url}{JOBS}",
        files={"image": ("in.png", _png())},
        data={"config": json.dumps(config)},
        headers=stack.headers(),
    )


def _submit(client: httpx.Client, stack: Stack, priority: str) -> str:
    r = _post(client, stack, priority)
    assert r.status_code == 202, r.text
    return str(r.json()["job_id"])


class Sampler:
    """Lists VectorizeJobs and pods continuously; keeps the most seen unfinished at once."""

    def __init__(self, cluster: KubeCluster) -> None:
        self.client = cluster.new_client()
        self.custom = kubernetes.client.CustomObjectsApi(self.client)
        self.core = kubernetes.client.CoreV1Api(self.client)
        self.max_jobs = 0
        self.max_pods = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sampler", daemon=True)

    def unfinished_jobs(self) -> list[str]:
        listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL)
        return [
            item["metadata"]["name"]
            for item in listed["items"]
            if (item.get("status") or {}).get("phase") not in TERMINAL_PHASES
        ]

    def _run(self) -> None:
        while not self._stop.is_set():
            jobs = len(self.unfinished_jobs())
            pods = self.core.list_namespaced_pod("default").items
            live = sum(
                1 for p in pods if p.status is None or p.status.phase not in ("Succeeded", "Failed")
            )
            self.max_jobs = max(self.max_jobs, jobs)
            self.max_pods = max(self.max_pods, live)
            self.samples += 1
            self._stop.wait(0.25)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.close()


def _list(client: httpx.Client, stack: Stack) -> list[dict[str, Any]]:
    """The tenant's jobs (one request per 100; polling each job would hit the rate limit)."""
    jobs: list[dict[str, Any]] = []
    token = ""
    while True:
        params = {"page_size": "100", **({"page_token": token} if token else {})}
        r = client.get(f"{stack.base_url}{JOBS}", params=params, headers=stack.headers())
        assert r.status_code == 200, r.text
        jobs += r.json()["jobs"]
        token = r.json().get("next_page_token") or ""
        if not token:
            return jobs


def test_capacity_priority_queue_cap_and_priority_classes(
    kube_api: KubeCluster, operator_runner: OperatorRunner, jobs: Jobs, tmp_path: Path
) -> None:
    data_dir = tmp_path / "stack"
    jobs.create_local_storage(data_dir / "artifacts")
    env = {
        "SUPERSVG_SCHEDULER_EXECUTOR": "kubernetes",
        "SUPERSVG_SCHEDULER_K8S_NAMESPACE": "default",
        "SUPERSVG_SCHEDULER_K8S_WATCH_TIMEOUT_SECONDS": "5",
        "SUPERSVG_SCHEDULER_K8S_MAX_RUNNING_ATTEMPTS": str(CAPACITY),
        "SUPERSVG_SCHEDULER_K8S_PRIORITY_CLASSES": json.dumps(PRIORITY_CLASSES),
        "SUPERSVG_SCHEDULER_K8S_KUEUE_QUEUE_NAME": "vectorize",
        "SUPERSVG_SCHEDULER_MAX_QUEUE_SIZE": str(QUEUE_CAP),
        "SUPERSVG_SCHEDULER_DEFAULT_MAX_ACTIVE_JOBS": "100",
        # One replica (leader election is tested in test_leader_lease.py and the HA test):
        # the mock API shares this process with the operator and answers slowly under load.
        "SUPERSVG_SCHEDULER_LEADER_ELECTION": "off",
        "KUBECONFIG": str(kube_api.kubeconfig),
    }
    with (
        running_stack(data_dir, env=env) as stack,
        httpx.Client(timeout=30) as client,
        Sampler(kube_api) as sampler,
    ):
        # No node runs pods yet: 4 VectorizeJobs are created, the other jobs stay queued.
        normal = [_submit(client, stack, "normal") for _ in range(TOTAL - 1)]
        eventually(lambda: len(sampler.unfinished_jobs()) == CAPACITY, timeout=60, what="4 VJs")
        time.sleep(2.5)  # several dispatch rounds later: still 4
        assert len(sampler.unfinished_jobs()) == CAPACITY
        states = [body["status"] for body in _list(client, stack)]
        assert states.count("queued") == TOTAL - 1 - CAPACITY, states

        high = _submit(client, stack, "high")
        # The queue holds QUEUE_CAP jobs now: the next submit is refused in the error model.
        assert_error(_post(client, stack, "low"), 503, "CAPACITY_EXHAUSTED")

        kubelet = Kubelet(kube_api, tmp_path / "pods").start()
        try:
            deadline = time.monotonic() + 1500
            wanted = set(normal) | {high}
            done: dict[str, dict[str, Any]] = {}
            while len(done) < len(wanted) and time.monotonic() < deadline:
                for body in _list(client, stack):
                    assert body["status"] not in ("failed", "cancelled"), body
                    if body["status"] == "completed" and body["job_id"] in wanted:
                        done[body["job_id"]] = body
                assert stack.embedded.failed() is None, stack.log("scheduler")[-3000:]
                time.sleep(1.0)
            assert len(done) == TOTAL, f"{TOTAL - len(done)} jobs did not complete"
        finally:
            kubelet.stop()
        started = {j: done[j]["started_at"] for j in wanted}

    assert sampler.samples > 50
    assert sampler.max_jobs <= CAPACITY, sampler.max_jobs
    assert sampler.max_pods <= CAPACITY, sampler.max_pods
    assert sampler.max_jobs == CAPACITY  # the capacity was used, not just respected
    # The high job was submitted after 45 queued normal jobs and started before all of them
    # (times are to the millisecond: two claims in one dispatch round may share one).
    queued_then = normal[CAPACITY:]
    assert all(started[high] <= started[j] for j in queued_then), (started[high], queued_then)
    assert started[high] < started[queued_then[-1]]
    # Oldest first within a priority.
    times = [started[j] for j in queued_then]
    assert times == sorted(times)
    # The pods carry their priority's PriorityClass (set through the VectorizeJob) and the
    # Kueue queue label.
    high_pod = jobs.pod(f"{vectorizejob_name(high, 1)}-1")
    assert high_pod.spec.priority_class_name == PRIORITY_CLASSES["high"]
    assert high_pod.metadata.labels[LABEL_KUEUE_QUEUE] == "vectorize"
    for job_id in normal[:3]:
        pod = jobs.pod(f"{vectorizejob_name(job_id, 1)}-1")
        assert pod.spec.priority_class_name == PRIORITY_CLASSES["normal"]
