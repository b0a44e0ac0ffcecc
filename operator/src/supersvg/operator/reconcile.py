"""The VectorizeJob state machine, as a pure function of what the cluster holds.

:func:`decide` looks at a VectorizeJob (spec and the status the operator wrote before) and
its pods, and returns a :class:`Plan`: the pod to create, pods to delete, the status to
write, the Events to post, and when to look again. Nothing is kept in memory between calls,
so an operator restarted at any point derives the same plan from the same cluster state:
pod names are deterministic per attempt (creating one twice is a 409, never a duplicate),
and the attempt count is the larger of status.attempts and the highest pod attempt.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Any

from supersvg.api.jobs import ExitCode
from supersvg.common.backoff import Backoff
from supersvg.operator.children import CONTAINER, build_pod, pod_name
from supersvg.operator.model import (
    LABEL_ATTEMPT,
    TERMINAL_PHASES,
    spec_with_defaults,
)
from supersvg.operator.settings import OperatorSettings

__all__ = [
    "Event",
    "Plan",
    "PodOutcome",
    "backoff_seconds",
    "decide",
    "format_time",
    "parse_time",
    "pod_outcome",
]

# Condition type per phase (as batch/v1 Jobs: Complete/Failed/Suspended, plus ours).
_CONDITION_OF_PHASE = {
    "Running": "Started",
    "Succeeded": "Complete",
    "Failed": "Failed",
    "Cancelled": "Cancelled",
    "Suspended": "Suspended",
}


@dataclasses.dataclass(frozen=True)
class Event:
    type: str  # Normal | Warning
    reason: str
    message: str


@dataclasses.dataclass
class Plan:
    """What to do for one VectorizeJob now."""

    create_pod: dict[str, Any] | None = None
    delete_pods: list[str] = dataclasses.field(default_factory=list)
    status: dict[str, Any] | None = None  # merge patch for .status; None: nothing changes
    events: list[Event] = dataclasses.field(default_factory=list)
    delete_job: bool = False
    wake_at: dt.datetime | None = None
    phase: str | None = None  # the phase after the plan is applied (for metrics)

    def wake(self, when: dt.datetime) -> None:
        self.wake_at = when if self.wake_at is None else min(self.wake_at, when)


@dataclasses.dataclass(frozen=True)
class PodOutcome:
    state: str  # pending | running | succeeded | failed
    exit_code: int | None = None
    message: str = ""
    finished_at: dt.datetime | None = None


def format_time(when: dt.datetime) -> str:
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: Any) -> dt.datetime | None:
    if not text:
        return None
    if isinstance(text, dt.datetime):
        return text if text.tzinfo else text.replace(tzinfo=dt.UTC)
    try:
        return dt.datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None


def backoff_seconds(failed_attempt: int, settings: OperatorSettings) -> float:
    """Delay before the attempt after ``failed_attempt``: exponential, capped."""
    return Backoff(settings.backoff_base_seconds, settings.backoff_max_seconds).delay(
        max(1, failed_attempt)
    )


def pod_outcome(pod: Mapping[str, Any]) -> PodOutcome:
    """How far a worker pod got, from its phase and the worker container's state."""
    status = pod.get("status") or {}
    phase = status.get("phase") or "Pending"
    terminated: Mapping[str, Any] = {}
    for cs in status.get("containerStatuses") or []:
        if cs.get("name") == CONTAINER:
            terminated = (cs.get("state") or {}).get("terminated") or {}
    exit_code = terminated.get("exitCode")
    message = terminated.get("message") or status.get("message") or terminated.get("reason") or ""
    message = message or status.get("reason") or ""
    finished = parse_time(terminated.get("finishedAt"))
    if phase == "Succeeded" or (terminated and exit_code == 0 and phase != "Failed"):
        return PodOutcome("succeeded", 0, message, finished)
    if phase == "Failed" or (terminated and exit_code not in (None, 0)):
        return PodOutcome("failed", exit_code, message, finished)
    if phase == "Running":
        return PodOutcome("running")
    return PodOutcome("pending")


def _attempt_of(pod: Mapping[str, Any]) -> int:
    try:
        return int(((pod.get("metadata") or {}).get("labels") or {}).get(LABEL_ATTEMPT, 0))
    except ValueError:
        return 0


def _is_active(pod: Mapping[str, Any]) -> bool:
    deleting = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    return not deleting and pod_outcome(pod).state in ("pending", "running")


def _num_paths(message: str) -> int | None:
    """The worker may leave its metrics as JSON in the termination message."""
    try:
        data = json.loads(message)
    except (TypeError, ValueError):
        return None
    if isinstance(data, dict):
        value = data.get("num_paths", (data.get("metrics") or {}).get("num_paths"))
        if isinstance(value, int):
            return value
    return None


class _Transition:
    """Builds the status patch for a phase change with its condition and Event."""

    def __init__(self, job: Mapping[str, Any], now: dt.datetime, plan: Plan) -> None:
        self.status: Mapping[str, Any] = job.get("status") or {}
        self.generation = (job.get("metadata") or {}).get("generation")
        self.now = now
        self.plan = plan
        self.patch: dict[str, Any] = {}

    def set(self, **fields: Any) -> None:
        self.patch.update(fields)

    def phase(self, phase: str, reason: str, message: str, *, warning: bool = False) -> None:
        changed = (
            self.status.get("phase") != phase
            or self.status.get("reason") != reason
            or self.status.get("message") != message
        )
        self.patch.update(phase=phase, reason=reason, message=message)
        self.plan.phase = phase
        if not changed:
            return
        self.plan.events.append(Event("Warning" if warning else "Normal", reason, message))
        conditions = {c["type"]: dict(c) for c in self.status.get("conditions") or []}
        active = _CONDITION_OF_PHASE.get(phase)
        for ctype, cond in conditions.items():
            # Only the condition of the current phase (and Started, once true) stays True.
            keep = ctype == active or (ctype == "Started" and phase in ("Running", "Succeeded"))
            if cond.get("status") == "True" and not keep:
                conditions[ctype] = self._condition(ctype, "False", reason, message)
        if active is not None:
            old = conditions.get(active)
            cond = self._condition(active, "True", reason, message)
            if old is not None and old.get("status") == "True" and old.get("lastTransitionTime"):
                cond["lastTransitionTime"] = old["lastTransitionTime"]  # no flip, same time
            conditions[active] = cond
        self.patch["conditions"] = list(conditions.values())

    def _condition(self, ctype: str, status: str, reason: str, message: str) -> dict[str, Any]:
        cond: dict[str, Any] = {
            "type": ctype,
            "status": status,
            "reason": reason,
            "message": message,
            "lastTransitionTime": format_time(self.now),
        }
        if self.generation is not None:
            cond["observedGeneration"] = self.generation
        return cond

    def finish(self) -> dict[str, Any] | None:
        """The status patch, or None when nothing would change."""
        if self.generation is not None:
            self.patch.setdefault("observedGeneration", self.generation)
        changes = {k: v for k, v in self.patch.items() if self.status.get(k) != v}
        return changes or None


def decide(
    job: Mapping[str, Any],
    pods: Sequence[Mapping[str, Any]],
    now: dt.datetime,
    settings: OperatorSettings,
) -> Plan:
    """The next step for ``job`` given its pods (those labelled with its uid)."""
    plan = Plan()
    meta = job["metadata"]
    if meta.get("deletionTimestamp"):
        return plan  # the deletion handler owns this job now
    spec = spec_with_defaults(job.get("spec") or {}, settings.gpu_resource)
    status: Mapping[str, Any] = job.get("status") or {}
    t = _Transition(job, now, plan)
    phase = status.get("phase")
    by_attempt = {_attempt_of(p): p for p in pods}
    attempts = max([int(status.get("attempts") or 0), *by_attempt])
    latest = by_attempt.get(attempts) if attempts else None
    active = sorted(p["metadata"]["name"] for p in pods if _is_active(p))

    if phase in TERMINAL_PHASES:
        plan.phase = phase
        plan.delete_pods = active  # e.g. a cancel whose pod deletion was interrupted
        _ttl(spec, status, now, plan)
        return plan

    def finish(end_phase: str, reason: str, message: str, *, warning: bool = False) -> Plan:
        plan.delete_pods = active
        t.phase(end_phase, reason, message, warning=warning)
        t.set(completionTime=status.get("completionTime") or format_time(now), retryAfter=None)
        plan.status = t.finish()
        _ttl(spec, {**status, **(plan.status or {})}, now, plan)
        return plan

    if spec["cancel"]:
        return finish("Cancelled", "Cancelled", "cancelled: spec.cancel is true")

    in_bucket, out_bucket = spec["input"].get("bucket"), spec["output"].get("bucket")
    if in_bucket and out_bucket and in_bucket != out_bucket:
        message = f"input bucket {in_bucket!r} and output bucket {out_bucket!r} must be the same"
        return finish("Failed", "InvalidSpec", message, warning=True)

    start = parse_time(status.get("startTime"))
    deadline_s = spec.get("activeDeadlineSeconds")
    if deadline_s and start is not None:
        deadline = start + dt.timedelta(seconds=int(deadline_s))
        if now >= deadline:
            message = f"the job ran longer than activeDeadlineSeconds ({deadline_s}s)"
            return finish("Failed", "DeadlineExceeded", message, warning=True)
        plan.wake(deadline)

    def start_attempt(attempt: int, reason: str, message: str) -> Plan:
        if spec["suspend"]:
            t.phase("Suspended", "Suspended", "spec.suspend is true: no pod is started")
            plan.status = t.finish()
            return plan
        plan.create_pod = build_pod(job, attempt, settings)
        name = pod_name(meta["name"], attempt)
        t.phase("Pending", reason, message)
        t.set(attempts=attempt, podName=name, retryAfter=None, progress=0)
        t.set(startTime=status.get("startTime") or format_time(now))
        if deadline_s and start is None:
            plan.wake(now + dt.timedelta(seconds=int(deadline_s)))
        plan.status = t.finish()
        return plan

    if latest is None and attempts == 0:
        return start_attempt(1, "PodCreated", f"created pod {pod_name(meta['name'], 1)}")

    if latest is None:
        outcome = PodOutcome("failed", None, "the pod disappeared", now)
    else:
        outcome = pod_outcome(latest)
    current = pod_name(meta["name"], attempts)

    if outcome.state == "pending":
        if not (phase == "Pending" and status.get("podName") == current):
            # Not recorded yet (e.g. the status write after creating it lost a race).
            prev = by_attempt.get(attempts - 1)
            if prev is not None and pod_outcome(prev).state == "failed":
                failed = _failure_text(attempts - 1, prev["metadata"]["name"], pod_outcome(prev))
                t.phase("Pending", "Retrying", f"{failed}; started attempt {attempts}")
            else:
                t.phase("Pending", "PodPending", f"pod {current} is waiting to run")
        t.set(podName=current, attempts=attempts)
    elif outcome.state == "running":
        t.phase("Running", "PodRunning", f"pod {current} is running (attempt {attempts})")
        t.set(podName=current, attempts=attempts)
    elif outcome.state == "succeeded":
        prefix = spec["output"]["prefix"]
        result: dict[str, Any] = {
            "svgKey": prefix + "output.svg",
            "previewKey": prefix + "preview.png",
            "resultKey": prefix + "result.json",
        }
        bucket = out_bucket or in_bucket
        if bucket:
            result["bucket"] = bucket
        t.set(progress=100, result=result, exitCode=0, podName=current, attempts=attempts)
        paths = _num_paths(outcome.message)
        if paths is not None:
            t.set(numPaths=paths)
        return finish("Succeeded", "Completed", f"pod {current} completed")
    else:  # failed
        code = outcome.exit_code
        what = _failure_text(attempts, current, outcome)
        if code is not None:
            t.set(exitCode=code)
        if code == ExitCode.INVALID_INPUT:
            return finish("Failed", "InvalidInput", what, warning=True)
        if code == ExitCode.CANCELLED:
            return finish("Cancelled", "WorkerCancelled", what)
        if code == ExitCode.MODEL_UNAVAILABLE:
            return finish("Failed", "ModelUnavailable", what, warning=True)
        if attempts > spec["backoffLimit"]:
            message = f"{what}; backoffLimit ({spec['backoffLimit']}) reached"
            return finish("Failed", "BackoffLimitExceeded", message, warning=True)
        # The retry time is written to the status once, so it survives restarts and does
        # not slide when the pod reports no finish time.
        retry_at = parse_time(status.get("retryAfter"))
        if retry_at is None:
            finished = outcome.finished_at or now
            retry_at = finished + dt.timedelta(seconds=backoff_seconds(attempts, settings))
        if now >= retry_at:
            nxt = attempts + 1
            return start_attempt(nxt, "Retrying", f"{what}; started attempt {nxt}")
        t.phase("Pending", "BackOff", f"{what}; retrying at {format_time(retry_at)}", warning=True)
        t.set(retryAfter=format_time(retry_at), attempts=attempts, podName=current)
        plan.wake(retry_at)
    plan.status = t.finish()
    return plan


def _failure_text(attempt: int, pod: str, outcome: PodOutcome) -> str:
    code = outcome.exit_code
    detail = f"exit code {code}" if code is not None else "no exit code"
    text = f"attempt {attempt} (pod {pod}) failed with {detail}"
    if outcome.message:
        text += f": {outcome.message.strip()[-300:]}"
    return text


def _ttl(spec: Mapping[str, Any], status: Mapping[str, Any], now: dt.datetime, plan: Plan) -> None:
    ttl = spec.get("ttlSecondsAfterFinished")
    done = parse_time(status.get("completionTime"))
    if ttl is None or done is None:
        return
    expiry = done + dt.timedelta(seconds=int(ttl))
    if now >= expiry:
        plan.delete_job = True
    else:
        plan.wake(expiry)
