"""The FastAPI application: ``create_app(settings)`` builds the gateway's state once,
installs the middleware and error handlers, and includes the routes (``routes/``)."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from supersvg.common.storage import ArtifactStore, LocalArtifactStore
from supersvg.gateway.client import SchedulerClient
from supersvg.gateway.dependencies import GatewayState
from supersvg.gateway.errors import install_error_handlers
from supersvg.gateway.metrics import HttpMetrics
from supersvg.gateway.middleware import RequestContextMiddleware
from supersvg.gateway.routes import ROUTERS
from supersvg.gateway.routes.web import mount_static
from supersvg.gateway.settings import GatewaySettings

__all__ = ["FORM_OVERHEAD_BYTES", "create_app"]

log = logging.getLogger("supersvg.gateway")

#: Room for the multipart framing and the config field on top of the image itself.
FORM_OVERHEAD_BYTES = 256 * 1024


def create_app(settings: GatewaySettings, store: ArtifactStore) -> FastAPI:
    """The gateway application over the given artifact store."""
    artifacts = store  # built by the caller from the settings it read once
    if not settings.signing_key and isinstance(artifacts, LocalArtifactStore):
        log.warning("SUPERSVG_GATEWAY_SIGNING_KEY is unset: result links die with this process")
    state = GatewayState(
        settings=settings,
        artifacts=artifacts,
        signing_key=(settings.signing_key or secrets.token_hex(32)).encode(),
        metrics=HttpMetrics(),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.scheduler = SchedulerClient(
            settings.scheduler_addr, settings.scheduler_timeout_seconds, settings.tls_files()
        )
        try:
            yield
        finally:
            client, state.scheduler = state.scheduler, None
            await client.close()

    app = FastAPI(
        title="SuperSVG API",
        version=settings.version,
        description="Raster to SVG vectorization as asynchronous jobs.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.gateway = state
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
        observe=state.metrics.observe,
        body_idle_timeout=settings.body_idle_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
    )
    for router in ROUTERS:
        app.include_router(router)
    mount_static(app, settings)
    return app
