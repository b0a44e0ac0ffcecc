"""The job store interface and its records."""

from __future__ import annotations

import abc
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ACTIVE_STATES",
    "TERMINAL_STATES",
    "CallbackRecord",
    "DuplicateIdempotencyKeyError",
    "JobRecord",
    "JobStore",
    "TenantRecord",
    "TokenRecord",
]

#: States (lower-case names of the proto's JobState) that count against a tenant's quota.
ACTIVE_STATES = ("queued", "running", "cancelling")
TERMINAL_STATES = ("completed", "failed", "cancelled", "expired")


@dataclass
class JobRecord:
    job_id: str
    tenant_id: str
    state: str
    priority: int  # 1 low, 2 normal, 3 high
    config: dict[str, Any]
    input_key: str
    created_at: float
    updated_at: float
    progress: int = 0
    stage: str = ""
    started_at: float | None = None
    finished_at: float | None = None
    error_code: str | None = None
    error_message: str | None = None
    result: dict[str, Any] | None = None
    attempts: int = 0
    trace_id: str = ""
    traceparent: str = ""
    worker_token: str = ""
    idempotency_key: str | None = None
    request_hash: str = ""
    callback_url: str = ""
    cancel_requested: bool = False

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL_STATES


@dataclass
class TenantRecord:
    tenant_id: str
    rate_limit_per_minute: int = 0
    max_active_jobs: int = 0


@dataclass
class TokenRecord:
    token_id: str
    tenant_id: str
    name: str
    created_at: float
    revoked_at: float | None = None


@dataclass
class CallbackRecord:
    delivery_id: str
    job_id: str
    url: str
    body: str
    state: str  # pending | delivered | failed | refused
    next_attempt_at: float
    created_at: float
    attempts: int = 0
    last_error: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


class DuplicateIdempotencyKeyError(Exception):
    """A job with this tenant and idempotency key exists already."""

    def __init__(self, existing: JobRecord) -> None:
        super().__init__(existing.job_id)
        self.existing = existing


class JobStore(abc.ABC):
    """Persistent job metadata. Every transition is a conditional update on the state."""

    @abc.abstractmethod
    async def migrate(self) -> list[int]:
        """Apply pending migrations; returns the versions applied now."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    # jobs
    @abc.abstractmethod
    async def insert_job(self, job: JobRecord) -> None:
        """Insert; :class:`DuplicateIdempotencyKeyError` if (tenant, key) exists."""

    @abc.abstractmethod
    async def get_job(self, job_id: str) -> JobRecord | None: ...

    @abc.abstractmethod
    async def find_idempotent(self, tenant_id: str, key: str) -> JobRecord | None: ...

    @abc.abstractmethod
    async def list_jobs(
        self,
        tenant_id: str,
        limit: int,
        state: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[JobRecord]:
        """A tenant's jobs, newest first, strictly older than ``before`` (created_at, id)."""

    @abc.abstractmethod
    async def update_job(
        self, job_id: str, expected_states: Iterable[str] | None = None, **fields: Any
    ) -> JobRecord | None:
        """Set ``fields`` if the job is in one of ``expected_states``; the updated record,
        or None when the job is missing or in another state."""

    @abc.abstractmethod
    async def claim_next(self, worker_token: str, now: float) -> JobRecord | None:
        """Move the next queued job (high before normal before low, FIFO within) to
        running, counting an attempt; None when the queue is empty."""

    @abc.abstractmethod
    async def jobs_in_states(self, states: Sequence[str]) -> list[JobRecord]: ...

    @abc.abstractmethod
    async def count_jobs(self, states: Sequence[str], tenant_id: str | None = None) -> int: ...

    @abc.abstractmethod
    async def finished_before(
        self, states: Sequence[str], before: float, limit: int = 100
    ) -> list[JobRecord]: ...

    @abc.abstractmethod
    async def delete_job(self, job_id: str) -> None: ...

    # tenants and tokens
    @abc.abstractmethod
    async def upsert_tenant(self, tenant: TenantRecord) -> None: ...

    @abc.abstractmethod
    async def get_tenant(self, tenant_id: str) -> TenantRecord | None: ...

    @abc.abstractmethod
    async def create_token(self, token: TokenRecord, token_hash: str) -> None: ...

    @abc.abstractmethod
    async def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        """The token (revoked or not) with this hash."""

    @abc.abstractmethod
    async def revoke_token(self, token_id: str, now: float) -> bool: ...

    @abc.abstractmethod
    async def list_tokens(self, tenant_id: str | None = None) -> list[TokenRecord]: ...

    # callbacks (an outbox: rows survive restarts until delivered or given up)
    @abc.abstractmethod
    async def add_callback(self, cb: CallbackRecord) -> None: ...

    @abc.abstractmethod
    async def due_callbacks(self, now: float, limit: int = 20) -> list[CallbackRecord]: ...

    @abc.abstractmethod
    async def update_callback(self, delivery_id: str, **fields: Any) -> None: ...

    @abc.abstractmethod
    async def callbacks_for(self, job_id: str) -> list[CallbackRecord]: ...
