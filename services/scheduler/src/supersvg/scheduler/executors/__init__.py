"""Executors run a job's worker: locally as subprocesses, or on Kubernetes."""

from supersvg.scheduler.executors.base import (
    ExecutionOutcome,
    Executor,
    OutcomeHandler,
    WorkSpec,
)

__all__ = ["ExecutionOutcome", "Executor", "OutcomeHandler", "WorkSpec"]
