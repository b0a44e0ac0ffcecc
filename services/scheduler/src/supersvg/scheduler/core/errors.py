"""What the scheduler refuses, in its own terms. Only the gRPC servicer turns a
:class:`Refusal` into a status code."""

from __future__ import annotations

import enum

__all__ = ["Refusal", "SchedulerError"]


class Refusal(enum.Enum):
    """Why a request is refused."""

    INVALID = "invalid"  # the request breaks a rule (bad id, config, callback URL, ...)
    NOT_FOUND = "not_found"  # no such job for this tenant
    WRONG_STATE = "wrong_state"  # the job is not in a state that allows this
    CONFLICT = "conflict"  # an idempotency key reused for another request
    EXHAUSTED = "exhausted"  # queue full or tenant quota reached: retry later
    UNAUTHENTICATED = "unauthenticated"  # unknown or revoked API token
    FORBIDDEN = "forbidden"  # a worker report with the wrong token


class SchedulerError(Exception):
    """A request the scheduler refuses: why (:class:`Refusal`) and the error model's code."""

    def __init__(self, kind: Refusal, code: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.code = code
        self.message = message
