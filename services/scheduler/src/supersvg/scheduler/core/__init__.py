"""The scheduler's engine (see :mod:`.scheduler`); raises :class:`SchedulerError` with a
:class:`Refusal`, never a gRPC status."""

from supersvg.scheduler.core.auth import hash_token, new_api_token
from supersvg.scheduler.core.base import PRIORITIES
from supersvg.scheduler.core.errors import Refusal, SchedulerError
from supersvg.scheduler.core.jobs import SubmitRequest
from supersvg.scheduler.core.scheduler import Scheduler

__all__ = [
    "PRIORITIES",
    "Refusal",
    "Scheduler",
    "SchedulerError",
    "SubmitRequest",
    "hash_token",
    "new_api_token",
]
