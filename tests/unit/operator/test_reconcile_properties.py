"""Properties of the state machine over random pod histories (an in-memory cluster)."""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from supersvg.operator.reconcile import decide, format_time
from supersvg.operator.settings import OperatorSettings

SETTINGS = OperatorSettings(worker_image="img", backoff_base_seconds=5, backoff_max_seconds=20)
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
TERMINAL = {"Succeeded", "Failed", "Cancelled"}

# What happens between two reconciles: time passes, the current pod moves on, or a user
# cancels. Exit codes cover success, invalid input, cancelled and retryable failures.
step = st.one_of(
    st.tuples(st.just("wait"), st.integers(0, 30)),
    st.tuples(st.just("run"), st.just(0)),
    st.tuples(st.just("exit"), st.sampled_from([0, 1, 2, 3, 137])),
    st.tuples(st.just("vanish"), st.just(0)),
    st.tuples(st.just("cancel"), st.just(0)),
)


def merge(status: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(status)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


@settings(max_examples=150, deadline=None)
@given(backoff_limit=st.integers(0, 3), steps=st.lists(step, max_size=40))
def test_invariants_hold_for_any_history(backoff_limit: int, steps: list[tuple[str, int]]) -> None:
    job: dict[str, Any] = {
        "metadata": {"name": "j", "namespace": "ns", "uid": "u", "generation": 1},
        "spec": {
            "input": {"key": "a"},
            "output": {"prefix": "o/"},
            "backoffLimit": backoff_limit,
        },
        "status": {},
    }
    pods: dict[str, dict[str, Any]] = {}
    created: list[str] = []
    now = T0
    terminal_phase: str | None = None
    invalid_input = False
    for action, arg in [*steps, ("wait", 0)]:
        current = created[-1] if created else None
        pod = pods.get(current) if current else None
        if action == "wait":
            now += dt.timedelta(seconds=arg)
        elif action == "cancel":
            job["spec"]["cancel"] = True
        elif pod is not None and pod["status"]["phase"] in ("Pending", "Running"):
            if action == "run":
                pod["status"]["phase"] = "Running"
            elif action == "vanish":
                del pods[current]  # type: ignore[arg-type]
            elif action == "exit":
                terminated = {"exitCode": arg, "finishedAt": format_time(now)}
                pod["status"] = {
                    "phase": "Succeeded" if arg == 0 else "Failed",
                    "containerStatuses": [{"name": "worker", "state": {"terminated": terminated}}],
                }
                invalid_input = invalid_input or arg == 2

        plan = decide(job, list(pods.values()), now, SETTINGS)
        active = [p for p in pods.values() if p["status"]["phase"] in ("Pending", "Running")]
        if plan.create_pod is not None:
            assert not active, "a new attempt starts only after the last one ended"
            name = plan.create_pod["metadata"]["name"]
            assert name not in created, "pod names are never reused"
            assert name == f"j-{len(created) + 1}", "attempts are numbered without gaps"
            pods[name] = {**plan.create_pod, "status": {"phase": "Pending"}}
            created.append(name)
        for name in plan.delete_pods:
            pods.pop(name, None)
        if plan.status:
            job["status"] = merge(job["status"], plan.status)
        phase = job["status"].get("phase")
        if terminal_phase is not None:
            assert phase == terminal_phase, "terminal phases are final"
            assert plan.create_pod is None
        if phase in TERMINAL:
            terminal_phase = phase
        assert len(created) <= backoff_limit + 1, "no more attempts than backoffLimit allows"
        assert job["status"].get("attempts", 0) == len(created)

    if invalid_input:
        assert terminal_phase in ("Failed", "Cancelled")
        if terminal_phase == "Failed" and job["status"]["reason"] == "InvalidInput":
            assert job["status"]["exitCode"] == 2
    if terminal_phase == "Succeeded":
        last = created[-1]
        assert last in pods and pods[last]["status"]["phase"] == "Succeeded"
