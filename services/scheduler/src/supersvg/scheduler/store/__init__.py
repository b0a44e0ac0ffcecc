"""Job metadata stores: one interface (:class:`JobStore`), PostgreSQL and SQLite backends."""

from supersvg.scheduler.store.base import (
    ACTIVE_STATES,
    TERMINAL_STATES,
    CallbackRecord,
    DuplicateIdempotencyKeyError,
    JobRecord,
    JobStore,
    TenantRecord,
    TokenRecord,
)
from supersvg.scheduler.store.sql import SqlJobStore, open_store

__all__ = [
    "ACTIVE_STATES",
    "TERMINAL_STATES",
    "CallbackRecord",
    "DuplicateIdempotencyKeyError",
    "JobRecord",
    "JobStore",
    "SqlJobStore",
    "TenantRecord",
    "TokenRecord",
    "open_store",
]
