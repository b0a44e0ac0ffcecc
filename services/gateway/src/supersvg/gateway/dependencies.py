"""What routes depend on, as FastAPI ``Annotated`` dependencies. ``create_app`` builds
each object once (:class:`GatewayState`); these providers are the only readers of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from supersvg.common.storage import ArtifactStore
from supersvg.gateway.client import SchedulerClient
from supersvg.gateway.errors import ApiError
from supersvg.gateway.metrics import HttpMetrics
from supersvg.gateway.ratelimit import RateLimiter
from supersvg.gateway.settings import GatewaySettings

__all__ = [
    "ArtifactsDep",
    "GatewayState",
    "MetricsDep",
    "SchedulerDep",
    "SettingsDep",
    "StateDep",
    "Tenant",
    "TenantDep",
]


@dataclass
class GatewayState:
    """Everything a gateway process holds; one per application."""

    settings: GatewaySettings
    artifacts: ArtifactStore
    signing_key: bytes
    metrics: HttpMetrics
    limiter: RateLimiter = field(default_factory=RateLimiter)
    #: The scheduler client, opened by the application's lifespan.
    scheduler: SchedulerClient | None = None
    #: (tenant, Idempotency-Key) of submits being processed by this replica.
    in_flight: set[tuple[str, str]] = field(default_factory=set)


def _state(request: Request) -> GatewayState:
    state: GatewayState = request.app.state.gateway
    return state


def _settings(state: StateDep) -> GatewaySettings:
    return state.settings


def _artifacts(state: StateDep) -> ArtifactStore:
    return state.artifacts


def _scheduler(state: StateDep) -> SchedulerClient:
    return scheduler_of(state)


def scheduler_of(state: GatewayState) -> SchedulerClient:
    """The open scheduler client (503 outside the application's lifespan)."""
    if state.scheduler is None:
        raise ApiError(503, "SCHEDULER_UNAVAILABLE", "the gateway is starting or stopping")
    return state.scheduler


def _metrics(state: StateDep) -> HttpMetrics:
    return state.metrics


StateDep = Annotated[GatewayState, Depends(_state)]
SettingsDep = Annotated[GatewaySettings, Depends(_settings)]
ArtifactsDep = Annotated[ArtifactStore, Depends(_artifacts)]
SchedulerDep = Annotated[SchedulerClient, Depends(_scheduler)]
MetricsDep = Annotated[HttpMetrics, Depends(_metrics)]


class Tenant:
    """The authenticated caller."""

    def __init__(self, tenant_id: str, rate_limit_per_minute: int) -> None:
        self.tenant_id = tenant_id
        self.rate_limit_per_minute = rate_limit_per_minute


async def _authenticated(request: Request, state: StateDep, settings: SettingsDep) -> Tenant:
    """The caller's tenant from the bearer token, after the tenant's rate limit. A request
    without a token is refused before the scheduler is asked anything."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "UNAUTHENTICATED",
            "missing bearer token (Authorization: Bearer <token>)",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        t = await scheduler_of(state).authenticate(token.strip(), settings.auth_cache_seconds)
    except ApiError as err:
        if err.status == 401:
            err.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        raise
    tenant = Tenant(t.tenant_id, t.rate_limit_per_minute or settings.rate_limit_per_minute)
    wait = state.limiter.check(tenant.tenant_id, tenant.rate_limit_per_minute)
    if wait > 0:
        raise ApiError(
            429,
            "RATE_LIMITED",
            f"rate limit of {tenant.rate_limit_per_minute} requests per minute exceeded",
            {"limit_per_minute": tenant.rate_limit_per_minute},
            headers={"Retry-After": RateLimiter.retry_after(wait)},
        )
    request.state.tenant_id = tenant.tenant_id
    return tenant


TenantDep = Annotated[Tenant, Depends(_authenticated)]
