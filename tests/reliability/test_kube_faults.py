"""Faults on the Kubernetes path: the real operator (kopf, in-process) against the mock API,
restarted in the middle of several jobs, with its watch streams dropped and the history
compacted (410 Gone) while pods change phase. Every VectorizeJob ends in the right phase
with exactly one pod per attempt."""

from __future__ import annotations

import json

import pytest

from tools.testing.kube.fixtures import KubeCluster
from tools.testing.kube.jobs import Jobs
from tools.testing.kube.operator import OperatorRunner, eventually, operator_env
from tools.testing.reliability import record


def _traceparent(i: int) -> str:
    return f"00-{i + 1:032x}-{i + 1:016x}-01"


def test_operator_restart_and_dropped_watches_mid_jobs(
    kube_api: KubeCluster, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator_env(monkeypatch, kube_api)
    jobs = Jobs(kube_api)
    names = [f"rel{i}" for i in range(5)]
    faults = 0
    runner = OperatorRunner().start()
    try:
        for i, name in enumerate(names):
            jobs.create(
                name,
                backoffLimit=2,
                metadata={"annotations": {"supersvg.io/traceparent": _traceparent(i)}},
            )
        for name in names:
            jobs.wait_pod(f"{name}-1")
        for name in names[:3]:
            jobs.pods.run(f"{name}-1")
        jobs.wait_phase(names[0], "Running")

        # Fault 1: the operator stops while three pods run; pods change while it is away.
        runner.stop()
        faults += 1
        jobs.pods.exit("rel0-1", 0, message=json.dumps({"num_paths": 5}))
        jobs.pods.exit("rel1-1", 1, message="worker crashed")
        jobs.pods.run("rel3-1")
        runner = OperatorRunner().start()
        jobs.wait_phase("rel0", "Succeeded")
        jobs.wait_pod("rel1-2")  # the crash is retried as a new attempt

        # Fault 2: every watch stream dropped, then the history compacted (410 Gone).
        kube_api.drop_watches()
        jobs.pods.run("rel1-2")
        jobs.pods.exit("rel2-1", 0, message=json.dumps({"num_paths": 7}))
        kube_api.compact()
        kube_api.drop_watches()
        faults += 2
        jobs.pods.exit("rel3-1", 2, message="not an image")
        jobs.pods.run("rel4-1")
        jobs.pods.exit("rel1-2", 0, message=json.dumps({"num_paths": 9}))
        jobs.pods.exit("rel4-1", 0, message=json.dumps({"num_paths": 3}))

        expected = {
            "rel0": "Succeeded",
            "rel1": "Succeeded",
            "rel2": "Succeeded",
            "rel3": "Failed",
            "rel4": "Succeeded",
        }
        for name, phase in expected.items():
            jobs.wait_phase(name, phase, timeout=30)
        # Let any late reconcile run: nothing changes and no pod appears.
        eventually(lambda: all(jobs.status(n).get("completionTime") for n in names))
    finally:
        runner.stop()
    for i, name in enumerate(names):
        status = jobs.status(name)
        pods = jobs.pod_names(name)
        assert pods == [f"{name}-{i}" for i in range(1, status["attempts"] + 1)], (name, pods)
        # The job's trace continues in every attempt's pod (worker spans join it).
        for pod in pods:
            env = {e.name: e.value for e in jobs.pod(pod).spec.containers[0].env}
            trace_id = env["TRACEPARENT"].split("-")[1]  # the span is the operator's own
            assert trace_id == _traceparent(i).split("-")[1], (pod, env.get("TRACEPARENT"))
        assert status["phase"] == expected[name], (name, status)
    assert jobs.status("rel1")["attempts"] == 2
    assert jobs.status("rel3")["attempts"] == 1, "an invalid input is never retried"
    record(
        "fault",
        fault="Kubernetes: operator restart, watches dropped, history compacted",
        submitted=len(names),
        completed=sum(p == "Succeeded" for p in expected.values()),
        failed=sum(p == "Failed" for p in expected.values()),
        lost=0,
        injected=faults,
    )
