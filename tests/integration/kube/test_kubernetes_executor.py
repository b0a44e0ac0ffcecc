"""The scheduler's Kubernetes executor against the mock API with the real operator."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from supersvg.common.storage import StorageSettings
from supersvg.scheduler.executors.base import ExecutionOutcome, WorkSpec
from supersvg.scheduler.executors.kubernetes import (
    KubernetesExecutor,
    KubernetesExecutorSettings,
    vectorizejob_name,
)
from tools.testing.kube.fixtures import KubeCluster
from tools.testing.kube.jobs import Jobs
from tools.testing.kube.operator import OperatorRunner

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def work(job_id: str = "job_01HXAMPLE", attempt: int = 1, **extra: Any) -> WorkSpec:
    values: dict[str, Any] = {
        "job_id": job_id,
        "tenant_id": "tenant-a",
        "attempt": attempt,
        "input_key": f"jobs/{job_id}/input",
        "output_prefix": f"jobs/{job_id}/",
        "config": {"max_paths": 32, "num_iterations": 5, "preset": "icon", "seed": 3},
        "priority": "high",
        "worker_token": "secret-token-123",
        "scheduler_addr": "scheduler.supersvg:50051",
        "traceparent": TRACEPARENT,
    }
    values.update(extra)
    return WorkSpec(**values)


class Outcomes:
    def __init__(self) -> None:
        self.items: list[ExecutionOutcome] = []

    async def __call__(self, outcome: ExecutionOutcome) -> None:
        self.items.append(outcome)

    async def wait(self, count: int = 1, limit_s: float = 15.0) -> list[ExecutionOutcome]:
        await until(lambda: len(self.items) >= count, limit_s, f"{count} outcome(s)")
        return self.items


async def until(pred: Callable[[], Any], limit_s: float = 15.0, what: str = "") -> Any:
    """Poll without blocking the loop (the executor delivers outcomes on it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while loop.time() < deadline:
        value = await asyncio.to_thread(pred)
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(autouse=True)
def _info_logs(caplog: pytest.LogCaptureFixture) -> None:
    # The scheduler logs at INFO: records must build at that level (no clashing extras).
    caplog.set_level(logging.INFO)


def _executor(cluster: KubeCluster) -> KubernetesExecutor:
    settings = KubernetesExecutorSettings(namespace="default", watch_timeout_seconds=5)
    return KubernetesExecutor(settings, api_client=cluster.new_client(), device="cpu")


@pytest.fixture
async def executor(
    kube_api: KubeCluster, operator_runner: OperatorRunner
) -> AsyncIterator[tuple[KubernetesExecutor, Outcomes]]:
    outcomes = Outcomes()
    ex = _executor(kube_api)
    ex.set_outcome_handler(outcomes)
    await ex.start()
    try:
        yield ex, outcomes
    finally:
        await ex.stop()


async def test_launch_creates_a_vectorizejob_and_reports_success(
    executor: tuple[KubernetesExecutor, Outcomes], jobs: Jobs
) -> None:
    ex, outcomes = executor
    spec = work(attempt=2)
    await ex.launch(spec)
    name = vectorizejob_name(spec.job_id, 2)
    assert name == "job-01hxample-a2"
    vj = await asyncio.to_thread(jobs.get, name)
    assert vj["metadata"]["annotations"]["supersvg.io/traceparent"] == TRACEPARENT
    assert vj["metadata"]["labels"]["supersvg.io/job-id"] == "job_01HXAMPLE"
    assert vj["spec"]["jobId"] == "job_01HXAMPLE" and vj["spec"]["firstAttempt"] == 2
    assert vj["spec"]["backoffLimit"] == 0 and vj["spec"]["priority"] == "high"
    assert vj["spec"]["config"] == {
        "maxPaths": 32,
        "gradients": "auto",
        "numIterations": 5,
        "preset": "icon",
        "seed": 3,
        "outputFormat": "svg",
    }
    # The token lives in a Secret owned by the VectorizeJob, not in the resource.
    secret = await asyncio.to_thread(
        jobs.core.read_namespaced_secret, vj["spec"]["workerTokenSecretRef"]["name"], "default"
    )
    assert base64.b64decode(secret.data["token"]).decode() == "secret-token-123"
    assert secret.metadata.owner_references[0].uid == vj["metadata"]["uid"]

    pod = await until(lambda: f"{name}-1" in jobs.pod_names() and jobs.pod(f"{name}-1"))
    env = {e.name: e for e in pod.spec.containers[0].env}
    assert env["SUPERSVG_JOB_ID"].value == "job_01HXAMPLE"
    assert env["SUPERSVG_JOB_ATTEMPT"].value == "2"
    assert env["SUPERSVG_SCHEDULER_ADDR"].value == "scheduler.supersvg:50051"
    assert env["SUPERSVG_WORKER_TOKEN"].value_from.secret_key_ref.name == f"{name}-token"
    # Same trace; the span is the operator's pod-creation span when tracing is on.
    assert env["TRACEPARENT"].value.split("-")[1] == TRACEPARENT.split("-")[1]
    assert json.loads(env["SUPERSVG_JOB_CONFIG"].value)["max_paths"] == 32

    await asyncio.to_thread(jobs.pods.run, f"{name}-1")
    await asyncio.to_thread(jobs.pods.exit, f"{name}-1", 0)
    (outcome,) = await outcomes.wait()
    assert (outcome.job_id, outcome.attempt, outcome.exit_code) == ("job_01HXAMPLE", 2, 0)
    await asyncio.sleep(0.5)
    assert len(outcomes.items) == 1, "an outcome is reported exactly once"


async def test_failures_report_the_exit_code_without_operator_retries(
    executor: tuple[KubernetesExecutor, Outcomes], jobs: Jobs
) -> None:
    ex, outcomes = executor
    await ex.launch(work("job_bad", 1))
    await ex.launch(work("job_crash", 1))
    await until(lambda: {"job-bad-a1-1", "job-crash-a1-1"} <= set(jobs.pod_names()))
    await asyncio.to_thread(jobs.pods.exit, "job-bad-a1-1", 2, "not an image")
    await asyncio.to_thread(jobs.pods.exit, "job-crash-a1-1", 139)
    got = {o.job_id: o for o in await outcomes.wait(2)}
    assert got["job_bad"].exit_code == 2 and "InvalidInput" in got["job_bad"].message
    assert got["job_crash"].exit_code == 139
    await asyncio.sleep(1.0)
    # backoffLimit 0: the scheduler, not the operator, decides about another attempt.
    assert [p for p in jobs.pod_names() if p.startswith("job-crash")] == ["job-crash-a1-1"]


async def test_cancel_patches_the_vectorizejob(
    executor: tuple[KubernetesExecutor, Outcomes], jobs: Jobs
) -> None:
    ex, outcomes = executor
    await ex.launch(work("job_stop", 1))
    await until(lambda: "job-stop-a1-1" in jobs.pod_names())
    await asyncio.to_thread(jobs.pods.run, "job-stop-a1-1")
    await ex.cancel("job_stop", 1, grace_s=0.2)
    (outcome,) = await outcomes.wait()
    assert outcome.exit_code == 3
    vj = await asyncio.to_thread(jobs.get, "job-stop-a1")
    assert vj["spec"]["cancel"] is True and vj["status"]["phase"] == "Cancelled"
    await until(lambda: "job-stop-a1-1" not in jobs.pod_names(), what="the pod to go")


async def test_watch_resumes_after_drops_and_relists_after_gone(
    executor: tuple[KubernetesExecutor, Outcomes], jobs: Jobs, kube_api: KubeCluster
) -> None:
    ex, outcomes = executor
    await ex.launch(work("job_a", 1))
    await ex.launch(work("job_b", 1))
    await until(lambda: {"job-a-a1-1", "job-b-a1-1"} <= set(jobs.pod_names()))
    # The operator and the executor both watch VectorizeJobs; drop them once both do.
    await until(lambda: kube_api.api.open_watches["vectorizejobs"] >= 2, what="the watches")
    resumes = ex.resumes
    await asyncio.to_thread(kube_api.drop_watches)
    await asyncio.to_thread(jobs.pods.exit, "job-a-a1-1", 0)
    (first,) = await outcomes.wait(1)
    assert first.job_id == "job_a" and first.exit_code == 0
    assert ex.resumes > resumes, "the dropped watch was resumed from its resourceVersion"

    # History compacted while the watch is down: resuming gets 410 Gone, the executor
    # relists and still sees the attempt finish.
    await asyncio.to_thread(kube_api.compact)
    await asyncio.to_thread(kube_api.drop_watches)
    await asyncio.to_thread(jobs.pods.exit, "job-b-a1-1", 1)
    await outcomes.wait(2)
    assert outcomes.items[1].job_id == "job_b" and outcomes.items[1].exit_code == 1
    await until(lambda: ex.relists >= 1, what="a relist after 410 Gone")


async def test_adopt_after_a_scheduler_restart(
    kube_api: KubeCluster, operator_runner: OperatorRunner, jobs: Jobs
) -> None:
    first = _executor(kube_api)
    first.set_outcome_handler(Outcomes())
    await first.start()
    await first.launch(work("job_live", 1))
    await first.launch(work("job_done", 1))
    await until(lambda: {"job-live-a1-1", "job-done-a1-1"} <= set(jobs.pod_names()))
    await first.stop()
    # While no scheduler runs, one attempt finishes.
    await asyncio.to_thread(jobs.pods.exit, "job-done-a1-1", 0)
    await until(lambda: jobs.status("job-done-a1").get("phase") == "Succeeded")

    outcomes = Outcomes()
    second = _executor(kube_api)
    second.set_outcome_handler(outcomes)
    await second.start()
    try:
        assert await second.adopt(work("job_live", 1)) is True
        assert await second.adopt(work("job_done", 1)) is True
        assert await second.adopt(work("job_never", 1)) is False
        (done,) = await outcomes.wait(1)
        assert (done.job_id, done.exit_code) == ("job_done", 0)
        await asyncio.to_thread(jobs.pods.exit, "job-live-a1-1", 0)
        await outcomes.wait(2)
        assert outcomes.items[1].job_id == "job_live"
    finally:
        await second.stop()


async def test_deleted_vectorizejob_is_a_lost_attempt(
    executor: tuple[KubernetesExecutor, Outcomes], jobs: Jobs
) -> None:
    ex, outcomes = executor
    await ex.launch(work("job_gone", 1))
    await until(lambda: "job-gone-a1-1" in jobs.pod_names())
    await asyncio.to_thread(jobs.delete, "job-gone-a1")
    (outcome,) = await outcomes.wait()
    # Deleted before it finished: the operator records Cancelled (exit 3); the scheduler
    # retries it unless it had asked for the cancel itself.
    assert outcome.exit_code == 3


def test_from_settings_reads_its_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSVG_SCHEDULER_K8S_NAMESPACE", "vectorize")
    monkeypatch.setenv("SUPERSVG_SCHEDULER_K8S_ACTIVE_DEADLINE_SECONDS", "600")

    class Settings:
        worker_device = "cuda"

    ex = KubernetesExecutor.from_settings(Settings(), StorageSettings())
    assert ex.namespace == "vectorize" and ex.device == "cuda"
    assert ex.settings.active_deadline_seconds == 600
    assert ex.capacity is None


async def test_worker_placement_from_settings_reaches_the_vectorizejob_and_pod(
    kube_api: KubeCluster,
    operator_runner: OperatorRunner,
    jobs: Jobs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # As the chart sets them: a CPU-only worker (no GPU), a toleration and a priority class.
    monkeypatch.setenv("SUPERSVG_SCHEDULER_K8S_NAMESPACE", "default")
    monkeypatch.setenv(
        "SUPERSVG_SCHEDULER_K8S_RESOURCES",
        json.dumps({"requests": {"cpu": "2", "memory": "4Gi"}, "limits": {"memory": "8Gi"}}),
    )
    monkeypatch.setenv(
        "SUPERSVG_SCHEDULER_K8S_TOLERATIONS",
        json.dumps(
            [{"key": "dedicated", "operator": "Equal", "value": "svg", "effect": "NoSchedule"}]
        ),
    )
    monkeypatch.setenv("SUPERSVG_SCHEDULER_K8S_PRIORITY_CLASS_NAME", "batch-low")
    ex = KubernetesExecutor(
        KubernetesExecutorSettings.from_env(), api_client=kube_api.new_client(), device="cpu"
    )
    ex.set_outcome_handler(Outcomes())
    await ex.start()
    try:
        spec = work(job_id="job_01PLACEMENT")
        await ex.launch(spec)
        name = vectorizejob_name(spec.job_id, 1)
        vj = await asyncio.to_thread(jobs.get, name)
        assert vj["spec"]["resources"] == {
            "requests": {"cpu": "2", "memory": "4Gi"},
            "limits": {"memory": "8Gi"},
        }, "the CRD default (one GPU) must not be added to a CPU worker"
        assert vj["spec"]["tolerations"][0]["key"] == "dedicated"
        assert vj["spec"]["priorityClassName"] == "batch-low"
        pod = await until(lambda: f"{name}-1" in jobs.pod_names() and jobs.pod(f"{name}-1"))
        limits = pod.spec.containers[0].resources.limits or {}
        assert "nvidia.com/gpu" not in limits and limits.get("memory") == "8Gi"
        assert pod.spec.priority_class_name == "batch-low"
        assert any(t.key == "dedicated" for t in pod.spec.tolerations or [])
    finally:
        await ex.stop()


async def test_phase_changes_reach_the_phase_handler(
    executor: tuple[KubernetesExecutor, Outcomes], jobs: Jobs
) -> None:
    ex, outcomes = executor
    phases: list[tuple[str, int, str]] = []

    async def on_phase(job_id: str, attempt: int, phase: str, message: str) -> None:
        phases.append((job_id, attempt, phase))

    ex.set_phase_handler(on_phase)
    spec = work(job_id="job_01PHASES")
    await ex.launch(spec)
    name = vectorizejob_name(spec.job_id, 1)
    await until(lambda: ("job_01PHASES", 1, "Pending") in phases, what="Pending")
    pod = await until(lambda: f"{name}-1" in jobs.pod_names() and jobs.pod(f"{name}-1"))
    await asyncio.to_thread(jobs.pods.run, pod.metadata.name)
    await until(lambda: ("job_01PHASES", 1, "Running") in phases, what="Running")
    await asyncio.to_thread(jobs.pods.exit, pod.metadata.name, 0)
    (outcome,) = await outcomes.wait()
    assert outcome.exit_code == 0
    # The terminal phase arrives as the outcome, not as a phase change.
    assert [p for _, _, p in phases].count("Succeeded") == 0
    assert [p for _, _, p in phases].count("Pending") == 1, "each change is reported once"
