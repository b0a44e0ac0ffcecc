"""The executor interface: how the scheduler runs one attempt of a job's worker.

The scheduler owns the job state machine; an executor only starts, stops and watches
worker *attempts*. Life cycle, as the scheduler drives it::

    executor.set_outcome_handler(handler)   # once, before start()
    await executor.start()                  # connect, start watches, ...
    await executor.launch(spec)             # one attempt; returns once it is accepted
    await executor.cancel(job_id, attempt)  # stop an attempt (best effort, idempotent)
    await executor.adopt(spec)              # after a scheduler restart: still running?
    await executor.stop()                   # on shutdown (must not kill remote workers)

Rules every implementation follows:

- ``launch`` must not block while the worker runs. When the attempt ends, for any reason,
  the executor calls the outcome handler exactly once with an :class:`ExecutionOutcome`
  (exit code per docs/contracts.md: 0 completed, 2 invalid input, 3 cancelled, anything
  else a retryable failure; ``exit_code=None`` when the worker vanished without one, e.g.
  a deleted pod). The handler is a coroutine and is awaited on the scheduler's loop.
- ``capacity`` bounds how many attempts run at once; the scheduler never launches more
  than ``capacity`` minus the attempts running (``None`` means no bound). Running attempts
  are counted from the database plus ``live_attempts()`` (started, outcome not reported).
- ``cancel`` asks the worker to stop: the scheduler has already told the worker through
  ``ReportProgressResponse.cancel_requested``; the executor waits ``grace_s`` seconds for
  it to exit on its own, then terminates it (SIGTERM / pod deletion), then kills it
  (SIGKILL / zero grace period) after another ``grace_s``. The outcome handler is still
  called when the attempt ends.
- ``adopt`` is called on start for every job the store says is running. Return ``True``
  if the attempt is still alive and will be reported through the outcome handler (a
  Kubernetes executor finds its VectorizeJob); ``False`` makes the scheduler retry the job
  as a new attempt (the local executor: its subprocesses died with the old scheduler).
- ``report_phase`` (optional) tells the scheduler where an attempt stands before its
  worker reports (a Kubernetes executor: the VectorizeJob's phase, e.g. Pending while no
  GPU node is free); the scheduler shows it as the job's stage until progress arrives.
- ``stop`` releases resources. A local executor terminates its subprocesses (their jobs
  resume on the next start); a Kubernetes executor leaves its pods running.
- Construction: ``SUPERSVG_SCHEDULER_EXECUTOR`` picks the class: ``local`` ->
  ``supersvg.scheduler.executors.local.LocalExecutor``, ``kubernetes`` ->
  ``supersvg.scheduler.executors.kubernetes.KubernetesExecutor``; the scheduler calls
  ``cls.from_settings(settings, storage)`` once at start (``storage``: the object store the
  workers use). The scheduler tracks active attempts itself.
- ``WorkSpec.env()`` is the worker's contract environment (docs/contracts.md) except the
  storage variables, which each executor adds from its own configuration.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from supersvg.api.jobs import WorkerConfig, WorkerEnv
from supersvg.api.jobs.models import ModelRef
from supersvg.common.storage import StorageSettings

__all__ = ["ExecutionOutcome", "Executor", "OutcomeHandler", "PhaseHandler", "WorkSpec"]


@dataclass(frozen=True)
class WorkSpec:
    """Everything needed to run one attempt of a job's worker."""

    job_id: str
    tenant_id: str
    attempt: int  # from 1
    input_key: str  # jobs/{job_id}/input
    output_prefix: str  # jobs/{job_id}/
    #: The worker's job config (a mapping of its fields is accepted and validated).
    config: WorkerConfig
    priority: str  # "low" | "normal" | "high" (e.g. a pod priority class)
    #: Per-job secret the worker echoes in ReportProgress.
    worker_token: str
    #: host:port the worker reaches the scheduler at; empty = the worker sends no reports.
    scheduler_addr: str
    #: W3C trace context of the job's trace (becomes TRACEPARENT); empty when none.
    traceparent: str = ""
    #: Extra environment for the worker (e.g. SUPERSVG_DEVICE).
    extra_env: Mapping[str, str] = field(default_factory=dict)
    #: The learned model the worker runs with; None = the analytic coarse stage.
    model: ModelRef | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.config, WorkerConfig):
            object.__setattr__(self, "config", WorkerConfig.model_validate(dict(self.config)))

    def env(self) -> dict[str, str]:
        """The worker's environment per docs/contracts.md (storage variables excluded)."""
        return WorkerEnv(
            job_id=self.job_id,
            input_key=self.input_key,
            output_prefix=self.output_prefix,
            config=self.config.model_dump(mode="json"),
            attempt=self.attempt,
            scheduler_addr=self.scheduler_addr,
            worker_token=self.worker_token,
            traceparent=self.traceparent,
            model=self.model,
            extra=self.extra_env,
        ).to_env()


@dataclass(frozen=True)
class ExecutionOutcome:
    """How an attempt ended, as the executor saw it."""

    job_id: str
    attempt: int
    #: The worker's exit code; None when it vanished without one (lost pod, killed node).
    exit_code: int | None
    #: Human-readable detail for logs and the job's error message (e.g. pod reason).
    message: str = ""


OutcomeHandler = Callable[[ExecutionOutcome], Awaitable[None]]
#: (job_id, attempt, phase, message): where an attempt stands before its worker reports.
PhaseHandler = Callable[[str, int, str, str], Awaitable[None]]


class Executor(abc.ABC):
    """Runs worker attempts. See the module docstring for the contract."""

    #: Short name used in settings and logs ("local", "kubernetes").
    name: str = "base"

    def __init__(self) -> None:
        self._handler: OutcomeHandler | None = None
        self._phase_handler: PhaseHandler | None = None

    def set_outcome_handler(self, handler: OutcomeHandler) -> None:
        """Called once by the scheduler before :meth:`start`."""
        self._handler = handler

    async def report(self, outcome: ExecutionOutcome) -> None:
        """Deliver an outcome to the scheduler (implementations call this once per attempt)."""
        if self._handler is None:
            raise RuntimeError("executor has no outcome handler; call set_outcome_handler()")
        await self._handler(outcome)

    def set_phase_handler(self, handler: PhaseHandler) -> None:
        """Optional: receive phase changes of attempts (see :meth:`report_phase`)."""
        self._phase_handler = handler

    async def report_phase(self, job_id: str, attempt: int, phase: str, message: str = "") -> None:
        """Tell the scheduler an attempt's execution phase changed (no-op without a handler)."""
        if self._phase_handler is not None:
            await self._phase_handler(job_id, attempt, phase, message)

    @property
    @abc.abstractmethod
    def capacity(self) -> int | None:
        """Most attempts this executor runs at once; None for no bound."""

    def live_attempts(self) -> set[str]:
        """Job ids of attempts this executor started or adopted whose outcome it has not
        reported yet (they still hold capacity)."""
        return set()

    @abc.abstractmethod
    async def start(self) -> None:
        """Prepare to launch (connect to the cluster, start watches)."""

    @abc.abstractmethod
    async def stop(self) -> None:
        """Release resources on scheduler shutdown."""

    @abc.abstractmethod
    async def launch(self, spec: WorkSpec) -> None:
        """Start one attempt; return once it is accepted, without waiting for it to end."""

    @abc.abstractmethod
    async def cancel(self, job_id: str, attempt: int, grace_s: float) -> None:
        """Stop an attempt: wait ``grace_s`` for it to exit, then terminate, then kill."""

    @abc.abstractmethod
    async def adopt(self, spec: WorkSpec) -> bool:
        """After a restart: True if this attempt still runs and will be reported."""

    @classmethod
    @abc.abstractmethod
    def from_settings(cls, settings: Any, storage: StorageSettings) -> Executor:
        """Build from the scheduler's settings (``supersvg.scheduler.settings.SchedulerSettings``)
        and the workers' object store, plus any executor-specific environment the
        implementation reads itself (once, here)."""
