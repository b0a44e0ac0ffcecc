"""The VectorizeJob state machine as a pure function (no cluster, a fixed clock)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from supersvg.operator.model import LABEL_ATTEMPT, LABEL_OWNER_UID
from supersvg.operator.reconcile import backoff_seconds, decide, format_time, pod_outcome
from supersvg.operator.settings import OperatorSettings

T0 = dt.datetime(2026, 1, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.fixture
def settings() -> OperatorSettings:
    return OperatorSettings(worker_image="img:1", backoff_base_seconds=10, backoff_max_seconds=25)


def job(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "supersvg.io/v1alpha1",
        "kind": "VectorizeJob",
        "metadata": {
            "name": "j",
            "namespace": "ns",
            "uid": "u-1",
            "generation": 2,
            "resourceVersion": "7",
        },
        "spec": {"input": {"key": "in.png"}, "output": {"prefix": "out/"}, **spec},
        "status": status or {},
    }


def pod(attempt: int, phase: str = "Pending", code: int | None = None, **extra: Any) -> dict:
    status: dict[str, Any] = {"phase": phase}
    if code is not None:
        terminated = {"exitCode": code, "finishedAt": format_time(T0), **extra}
        status["containerStatuses"] = [{"name": "worker", "state": {"terminated": terminated}}]
    return {
        "metadata": {
            "name": f"j-{attempt}",
            "labels": {LABEL_ATTEMPT: str(attempt), LABEL_OWNER_UID: "u-1"},
        },
        "status": status,
    }


def test_first_pass_creates_attempt_one(settings: OperatorSettings) -> None:
    plan = decide(job(), [], T0, settings)
    assert plan.create_pod is not None
    assert plan.create_pod["metadata"]["name"] == "j-1"
    assert plan.status is not None
    assert plan.status["phase"] == "Pending" and plan.status["attempts"] == 1
    assert plan.status["startTime"] == format_time(T0)
    assert plan.status["observedGeneration"] == 2
    assert [e.reason for e in plan.events] == ["PodCreated"]


def test_same_state_gives_the_same_decision_and_no_duplicate(settings: OperatorSettings) -> None:
    # A crash after the pod was created but before the status was written: the pod
    # itself says attempt 1 exists; nothing new is created.
    plan = decide(job(), [pod(1)], T0, settings)
    assert plan.create_pod is None
    assert plan.status is not None and plan.status["attempts"] == 1
    # With the status written too, the next pass changes nothing and says nothing.
    status = {"phase": "Pending", "attempts": 1, "podName": "j-1", "observedGeneration": 2}
    again = decide(job(status), [pod(1)], T0, settings)
    assert again.create_pod is None and again.status is None and again.events == []


def test_running_then_success_sets_result_and_conditions(settings: OperatorSettings) -> None:
    status = {"phase": "Pending", "attempts": 1, "podName": "j-1"}
    running = decide(job(status), [pod(1, "Running")], T0, settings)
    assert running.status is not None and running.status["phase"] == "Running"
    started = {c["type"]: c for c in running.status["conditions"]}["Started"]
    assert started["status"] == "True" and started["lastTransitionTime"] == format_time(T0)

    later = T0 + dt.timedelta(seconds=30)
    status = {**status, **running.status}
    done = decide(
        job(status), [pod(1, "Succeeded", 0, message='{"num_paths": 12}')], later, settings
    )
    assert done.status is not None
    assert done.status["phase"] == "Succeeded" and done.status["numPaths"] == 12
    assert done.status["result"]["svgKey"] == "out/output.svg"
    conditions = {c["type"]: c for c in done.status["conditions"]}
    assert conditions["Complete"]["status"] == "True"
    # Started stays True and keeps its original transition time.
    assert conditions["Started"]["lastTransitionTime"] == format_time(T0)
    assert done.status["completionTime"] == format_time(later)


def test_failure_backs_off_then_retries(settings: OperatorSettings) -> None:
    status = {"phase": "Running", "attempts": 1, "podName": "j-1"}
    failed = [pod(1, "Failed", 1)]
    plan = decide(job(status), failed, T0, settings)
    assert plan.create_pod is None
    assert plan.status is not None and plan.status["reason"] == "BackOff"
    retry_at = T0 + dt.timedelta(seconds=10)
    assert plan.status["retryAfter"] == format_time(retry_at)
    assert plan.wake_at == retry_at
    status = {**status, **plan.status}
    # Too early: still waiting. On time: attempt 2 starts.
    assert (
        decide(job(status), failed, retry_at - dt.timedelta(seconds=1), settings).create_pod is None
    )
    plan = decide(job(status), failed, retry_at, settings)
    assert plan.create_pod is not None and plan.create_pod["metadata"]["name"] == "j-2"
    assert plan.status is not None and plan.status["attempts"] == 2
    assert plan.status["retryAfter"] is None  # cleared (merge patch removes it)


def test_backoff_grows_and_is_capped(settings: OperatorSettings) -> None:
    assert [backoff_seconds(n, settings) for n in (1, 2, 3, 4)] == [10, 20, 25, 25]


def test_retries_end_at_backoff_limit(settings: OperatorSettings) -> None:
    status = {"phase": "Running", "attempts": 2}
    plan = decide(
        job(status, backoffLimit=1), [pod(1, "Failed", 1), pod(2, "Failed", 1)], T0, settings
    )
    assert plan.create_pod is None
    assert plan.status is not None
    assert (plan.status["phase"], plan.status["reason"]) == ("Failed", "BackoffLimitExceeded")


def test_exit_code_2_is_permanent(settings: OperatorSettings) -> None:
    plan = decide(job({"attempts": 1}, backoffLimit=5), [pod(1, "Failed", 2)], T0, settings)
    assert plan.create_pod is None
    assert plan.status is not None and plan.status["reason"] == "InvalidInput"


def test_lost_pod_counts_as_a_failed_attempt(settings: OperatorSettings) -> None:
    plan = decide(job({"phase": "Running", "attempts": 1}), [], T0, settings)
    assert plan.status is not None and plan.status["reason"] == "BackOff"
    assert "disappeared" in plan.status["message"]


def test_deadline_fails_and_deletes_active_pods(settings: OperatorSettings) -> None:
    status = {"phase": "Running", "attempts": 1, "startTime": format_time(T0)}
    spec = {"activeDeadlineSeconds": 60}
    early = decide(
        job(status, **spec), [pod(1, "Running")], T0 + dt.timedelta(seconds=59), settings
    )
    assert early.wake_at == T0 + dt.timedelta(seconds=60) and not early.delete_pods
    late = decide(job(status, **spec), [pod(1, "Running")], T0 + dt.timedelta(seconds=60), settings)
    assert late.delete_pods == ["j-1"]
    assert late.status is not None and late.status["reason"] == "DeadlineExceeded"


def test_cancel_and_ttl(settings: OperatorSettings) -> None:
    status = {"phase": "Running", "attempts": 1}
    plan = decide(
        job(status, cancel=True, ttlSecondsAfterFinished=5), [pod(1, "Running")], T0, settings
    )
    assert plan.delete_pods == ["j-1"]
    assert plan.status is not None and plan.status["phase"] == "Cancelled"
    assert plan.wake_at == T0 + dt.timedelta(seconds=5) and not plan.delete_job
    done = {**status, **plan.status}
    later = decide(
        job(done, cancel=True, ttlSecondsAfterFinished=5),
        [],
        T0 + dt.timedelta(seconds=5),
        settings,
    )
    assert later.delete_job and later.status is None


def test_suspend_starts_nothing(settings: OperatorSettings) -> None:
    plan = decide(job(suspend=True), [], T0, settings)
    assert plan.create_pod is None
    assert plan.status is not None and plan.status["phase"] == "Suspended"


def test_deleting_jobs_are_left_to_the_deletion_handler(settings: OperatorSettings) -> None:
    deleting = job()
    deleting["metadata"]["deletionTimestamp"] = format_time(T0)
    plan = decide(deleting, [], T0, settings)
    assert plan.create_pod is None and plan.status is None


def test_mismatched_buckets_fail_the_job(settings: OperatorSettings) -> None:
    spec = {"input": {"key": "a", "bucket": "one"}, "output": {"prefix": "o/", "bucket": "two"}}
    plan = decide(job(**spec), [], T0, settings)
    assert plan.create_pod is None
    assert plan.status is not None and plan.status["reason"] == "InvalidSpec"


def test_pod_outcome_reads_phase_and_exit_code() -> None:
    assert pod_outcome(pod(1, "Pending")).state == "pending"
    assert pod_outcome(pod(1, "Running")).state == "running"
    failed = pod_outcome(pod(1, "Failed", 137, message="OOMKilled"))
    assert (failed.state, failed.exit_code, failed.message) == ("failed", 137, "OOMKilled")
    assert pod_outcome(pod(1, "Succeeded", 0)).state == "succeeded"
    evicted = pod_outcome({"status": {"phase": "Failed", "reason": "Evicted"}})
    assert (evicted.state, evicted.exit_code, evicted.message) == ("failed", None, "Evicted")


def test_unrecorded_retry_is_recorded_with_the_failure(settings: OperatorSettings) -> None:
    # The pod of attempt 2 exists, but the status write after creating it was lost.
    status = {"phase": "Pending", "reason": "BackOff", "attempts": 1, "podName": "j-1"}
    pods = [pod(1, "Failed", 1, message="CUDA out of memory"), pod(2)]
    plan = decide(job(status), pods, T0, settings)
    assert plan.create_pod is None
    assert plan.status is not None
    assert (plan.status["reason"], plan.status["attempts"], plan.status["podName"]) == (
        "Retrying",
        2,
        "j-2",
    )
    assert "CUDA out of memory" in plan.status["message"]
