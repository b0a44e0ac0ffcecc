"""The real operator (kopf, in-process) against the mock API; tests play the kubelet."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from supersvg.common.tracing import configure_tracing
from tools.testing.kube.fixtures import KubeCluster
from tools.testing.kube.jobs import Jobs
from tools.testing.kube.operator import OperatorRunner, eventually, operator_env

TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _env(pod: object) -> dict[str, object]:
    container = pod.spec.containers[0]  # type: ignore[attr-defined]
    return {e.name: (e.value if e.value is not None else e.value_from) for e in container.env}


def test_job_runs_to_success_with_status_conditions_and_events(
    jobs: Jobs, operator_runner: OperatorRunner
) -> None:
    spans = InMemorySpanExporter()
    configure_tracing("supersvg-operator", extra_processors=(SimpleSpanProcessor(spans),))
    created = jobs.create(
        "vj1",
        metadata={"annotations": {"supersvg.io/traceparent": TRACEPARENT}},
        config={"maxPaths": 64, "numIterations": 10, "preset": "icon", "seed": 7},
    )
    pod = jobs.wait_pod("vj1-1")

    # The pod: owned by the job, GPU, non-root, read-only root, the worker's contract env.
    owner = pod.metadata.owner_references[0]
    assert (owner.kind, owner.name, owner.uid) == (
        "VectorizeJob",
        "vj1",
        created["metadata"]["uid"],
    )
    assert owner.controller is True
    container = pod.spec.containers[0]
    assert container.resources.limits == {"nvidia.com/gpu": "1"}
    assert container.security_context.read_only_root_filesystem is True
    assert container.security_context.run_as_non_root is True
    assert container.security_context.capabilities.drop == ["ALL"]
    assert pod.spec.restart_policy == "Never"
    env = _env(pod)
    assert env["SUPERSVG_JOB_ID"] == "vj1"
    assert env["SUPERSVG_JOB_INPUT_KEY"] == "uploads/vj1.png"
    assert env["SUPERSVG_JOB_OUTPUT_PREFIX"] == "results/vj1/"
    assert env["SUPERSVG_JOB_ATTEMPT"] == "1"
    # The job's trace continues through the operator's span into the worker.
    (span,) = [s for s in spans.get_finished_spans() if s.name == "operator.create_pod"]
    assert f"{span.context.trace_id:032x}" == TRACEPARENT.split("-")[1]
    assert span.parent is not None and f"{span.parent.span_id:016x}" == TRACEPARENT.split("-")[2]
    assert env["TRACEPARENT"] == f"00-{span.context.trace_id:032x}-{span.context.span_id:016x}-01"
    assert "SUPERSVG_SCHEDULER_ADDR" not in env  # a kubectl-style job sends no reports
    assert json.loads(str(env["SUPERSVG_JOB_CONFIG"])) == {
        "max_paths": 64,
        "gradients": "auto",
        "num_iterations": 10,
        "preset": "icon",
        "seed": 7,
        "output_format": "svg",
    }
    assert {ref.secret_ref.name for ref in container.env_from if ref.secret_ref} == {
        "supersvg-storage"
    }

    status = jobs.wait_phase("vj1", "Pending")
    assert status["attempts"] == 1 and status["podName"] == "vj1-1" and status["startTime"]

    jobs.pods.run("vj1-1")
    status = jobs.wait_phase("vj1", "Running")
    assert status["reason"] == "PodRunning"

    jobs.pods.exit("vj1-1", 0, message=json.dumps({"num_paths": 57}))
    status = jobs.wait_phase("vj1", "Succeeded")
    assert status["progress"] == 100
    assert status["numPaths"] == 57
    assert status["exitCode"] == 0
    assert status["completionTime"]
    assert status["result"] == {
        "svgKey": "results/vj1/output.svg",
        "previewKey": "results/vj1/preview.png",
        "resultKey": "results/vj1/result.json",
    }
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["Started"]["status"] == "True"
    assert conditions["Complete"]["status"] == "True"
    assert conditions["Complete"]["reason"] == "Completed"
    assert conditions["Complete"]["observedGeneration"] == 1
    assert status["observedGeneration"] == 1

    events = eventually(
        lambda: (e := jobs.events("vj1")) and ("Normal", "Completed") in e and e,
        what="the Completed event",
    )
    reasons = [reason for _, reason in events]
    assert reasons.index("PodCreated") < reasons.index("PodRunning") < reasons.index("Completed")
    # No second pod was ever made.
    assert jobs.pod_names("vj1") == ["vj1-1"]


def test_failed_pod_is_retried_then_succeeds(jobs: Jobs, operator_runner: OperatorRunner) -> None:
    jobs.create("retry", backoffLimit=2)
    jobs.wait_pod("retry-1")
    jobs.pods.run("retry-1")
    jobs.pods.exit("retry-1", 1, message="CUDA error: out of memory")
    pod = jobs.wait_pod("retry-2")
    assert _env(pod)["SUPERSVG_JOB_ATTEMPT"] == "2"
    status = jobs.status("retry")
    assert status["attempts"] == 2 and status["podName"] == "retry-2"
    assert "out of memory" in status["message"]
    jobs.pods.run("retry-2")
    jobs.pods.exit("retry-2", 0)
    status = jobs.wait_phase("retry", "Succeeded")
    assert status["attempts"] == 2
    assert jobs.pod_names("retry") == ["retry-1", "retry-2"]
    assert ("Normal", "Retrying") in jobs.events("retry")


def test_retries_exhausted_fail_the_job(jobs: Jobs, operator_runner: OperatorRunner) -> None:
    jobs.create("doomed", backoffLimit=1)
    for attempt in (1, 2):
        jobs.wait_pod(f"doomed-{attempt}")
        jobs.pods.exit(f"doomed-{attempt}", 137)
    status = jobs.wait_phase("doomed", "Failed")
    assert status["reason"] == "BackoffLimitExceeded"
    assert status["attempts"] == 2 and status["exitCode"] == 137
    time.sleep(1.5)  # longer than the backoff: no third attempt may appear
    assert jobs.pod_names("doomed") == ["doomed-1", "doomed-2"]
    assert {c["type"]: c["status"] for c in status["conditions"]}["Failed"] == "True"


def test_invalid_input_fails_without_retry(jobs: Jobs, operator_runner: OperatorRunner) -> None:
    jobs.create("bad-input", backoffLimit=3)
    jobs.wait_pod("bad-input-1")
    jobs.pods.run("bad-input-1")
    jobs.pods.exit("bad-input-1", 2, message="not an image")
    status = jobs.wait_phase("bad-input", "Failed")
    assert status["reason"] == "InvalidInput" and status["exitCode"] == 2
    assert "not an image" in status["message"]
    time.sleep(1.5)
    assert jobs.pod_names("bad-input") == ["bad-input-1"]


def test_deadline_exceeded_fails_and_deletes_the_pod(
    jobs: Jobs, operator_runner: OperatorRunner
) -> None:
    jobs.create("slow", activeDeadlineSeconds=2)
    jobs.wait_pod("slow-1")
    jobs.pods.run("slow-1")
    jobs.wait_phase("slow", "Running")
    status = jobs.wait_phase("slow", "Failed", timeout=10)
    assert status["reason"] == "DeadlineExceeded"
    eventually(lambda: jobs.pod_names("slow") == [], what="the pod to be deleted")
    assert ("Warning", "DeadlineExceeded") in jobs.events("slow")


def test_cancel_while_pending(jobs: Jobs, operator_runner: OperatorRunner) -> None:
    jobs.create("c1")
    jobs.wait_pod("c1-1")
    jobs.patch_spec("c1", cancel=True)
    status = jobs.wait_phase("c1", "Cancelled")
    assert status["reason"] == "Cancelled"
    eventually(lambda: jobs.pod_names("c1") == [], what="the pod to be deleted")


def test_cancel_while_running_by_spec_and_by_delete(
    jobs: Jobs, operator_runner: OperatorRunner
) -> None:
    jobs.create("c2")
    jobs.wait_pod("c2-1")
    jobs.pods.run("c2-1")
    jobs.wait_phase("c2", "Running")
    jobs.patch_spec("c2", cancel=True)
    assert jobs.wait_phase("c2", "Cancelled")["completionTime"]
    eventually(lambda: jobs.pod_names("c2") == [], what="the pod to be deleted")

    jobs.create("c3")
    jobs.wait_pod("c3-1")
    jobs.pods.run("c3-1")
    jobs.wait_phase("c3", "Running")
    jobs.delete("c3")
    eventually(lambda: not jobs.exists("c3"), what="the job to be deleted")
    assert jobs.pod_names("c3") == []
    assert ("Normal", "Deleted") in jobs.events("c3")


def test_worker_exit_3_means_cancelled(jobs: Jobs, operator_runner: OperatorRunner) -> None:
    jobs.create("c4")
    jobs.wait_pod("c4-1")
    jobs.pods.exit("c4-1", 3)
    assert jobs.wait_phase("c4", "Cancelled")["reason"] == "WorkerCancelled"


def test_ttl_deletes_finished_jobs(jobs: Jobs, operator_runner: OperatorRunner) -> None:
    jobs.create("short-lived", ttlSecondsAfterFinished=1)
    jobs.wait_pod("short-lived-1")
    jobs.pods.exit("short-lived-1", 0)
    jobs.wait_phase("short-lived", "Succeeded")
    eventually(lambda: not jobs.exists("short-lived"), timeout=10, what="TTL deletion")
    # The pod went with its owner (garbage collection by ownerReferences).
    assert jobs.pod_names("short-lived") == []


def test_suspend_holds_the_pod_until_resumed(jobs: Jobs, operator_runner: OperatorRunner) -> None:
    jobs.create("held", suspend=True)
    status = jobs.wait_phase("held", "Suspended")
    assert status["reason"] == "Suspended"
    assert jobs.pod_names("held") == []
    jobs.patch_spec("held", suspend=False)
    jobs.wait_pod("held-1")


def test_restart_mid_job_creates_no_duplicate_pod(
    kube_api: KubeCluster, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator_env(monkeypatch, kube_api)
    first = OperatorRunner().start()
    try:
        jobs.create("survivor", backoffLimit=2)
        jobs.wait_pod("survivor-1")
        jobs.pods.run("survivor-1")
        jobs.wait_phase("survivor", "Running")
    finally:
        first.stop()

    # While no operator runs, the pod fails; the next operator must pick up from there.
    jobs.pods.exit("survivor-1", 1)
    with OperatorRunner().running():
        jobs.wait_pod("survivor-2")
        jobs.pods.run("survivor-2")
        jobs.wait_phase("survivor", "Running")
    # A third start with the job running: it adopts the running pod, creates nothing.
    with OperatorRunner().running() as third:
        time.sleep(1.0)
        assert jobs.pod_names("survivor") == ["survivor-1", "survivor-2"]
        jobs.pods.exit("survivor-2", 0)
        status = jobs.wait_phase("survivor", "Succeeded")
        eventually(
            lambda: third.runtime.metrics.jobs_by_phase()["Succeeded"] == 1,
            what="the metrics to count the success",
        )
    assert status["attempts"] == 2
    assert jobs.pod_names("survivor") == ["survivor-1", "survivor-2"]
    # Each transition was announced once, though three operators saw the job.
    reasons = [r for _, r in jobs.events("survivor")]
    assert reasons.count("PodCreated") == 1 and reasons.count("Completed") == 1


def test_metrics_endpoint_counts_jobs_by_phase(
    kube_api: KubeCluster, jobs: Jobs, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tools.testing.servers import free_port

    port = free_port()
    operator_env(monkeypatch, kube_api, SUPERSVG_OPERATOR_METRICS_PORT=str(port))
    with OperatorRunner().running():
        jobs.create("m1")
        jobs.create("m2")
        jobs.wait_pod("m1-1")
        jobs.pods.run("m1-1")
        jobs.wait_phase("m1", "Running")
        jobs.wait_phase("m2", "Pending")

        def scrape() -> str:
            return urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics").read().decode()

        text = eventually(
            lambda: (t := scrape()) and 'supersvg_vectorizejobs{phase="Running"} 1' in t and t,
            what="the Running gauge",
        )
        assert 'supersvg_vectorizejobs{phase="Pending"} 1' in text
        assert "supersvg_operator_pods_created_total 2" in text
