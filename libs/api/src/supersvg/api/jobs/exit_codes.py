"""The worker's exit codes: how an attempt ended, as executors and the operator read it."""

from __future__ import annotations

import enum

__all__ = ["ExitCode", "is_retryable"]


class ExitCode(enum.IntEnum):
    """``supersvg-worker`` exit status. Any code not listed is a retryable failure."""

    OK = 0
    #: A crash or an infrastructure failure: the attempt may be retried.
    FAILED = 1
    #: Invalid input or config: permanent, never retried.
    INVALID_INPUT = 2
    #: Stopped on request (cancel, SIGTERM).
    CANCELLED = 3
    #: The job's model is missing, corrupt (digest mismatch) or does not load: permanent
    #: until someone publishes or selects another model, so never retried.
    MODEL_UNAVAILABLE = 4


def is_retryable(code: int | None) -> bool:
    """Whether an attempt that ended with ``code`` may be tried again (``None``: the worker
    vanished without one, e.g. a deleted pod)."""
    return code not in (
        ExitCode.OK,
        ExitCode.INVALID_INPUT,
        ExitCode.CANCELLED,
        ExitCode.MODEL_UNAVAILABLE,
    )
