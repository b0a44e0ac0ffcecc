"""Health, readiness and metrics."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from supersvg.gateway.dependencies import MetricsDep, SchedulerDep, SettingsDep
from supersvg.gateway.models import HealthResponse

__all__ = ["router"]

router = APIRouter()


@router.get("/api/v1/health", response_model=HealthResponse, tags=["health"])
async def health(settings: SettingsDep) -> HealthResponse:
    return HealthResponse(status="ok", version=settings.version)


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/metrics", include_in_schema=False)
async def metrics(registry: MetricsDep) -> Response:
    return Response(registry.exposition(), media_type=CONTENT_TYPE_LATEST)


@router.get("/readyz", include_in_schema=False)
async def readyz(scheduler: SchedulerDep) -> JSONResponse:
    if await scheduler.ready():
        return JSONResponse({"status": "ready"})
    return JSONResponse(
        {
            "error": {
                "code": "SCHEDULER_UNAVAILABLE",
                "message": "scheduler unreachable",
                "details": {},
            }
        },
        status_code=503,
    )
