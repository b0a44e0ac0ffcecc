"""The FastAPI application: ``create_app(settings)``."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from google.protobuf.timestamp_pb2 import Timestamp
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from supersvg.api.jobs import config_problems, priority_from_proto
from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.common.ids import is_job_id, new_job_id
from supersvg.common.storage import (
    ArtifactStore,
    InvalidKeyError,
    LocalArtifactStore,
    create_store,
    job_key,
    validate_key,
)
from supersvg.gateway.client import SchedulerClient
from supersvg.gateway.errors import ApiError, install_error_handlers
from supersvg.gateway.media import sniff_image_type
from supersvg.gateway.middleware import (
    BodyTimeoutError,
    BodyTooLargeError,
    RequestContextMiddleware,
)
from supersvg.gateway.models import (
    CancelResponse,
    ErrorResponse,
    HealthResponse,
    JobConfig,
    JobList,
    JobStatus,
    ResultResponse,
    SubmitResponse,
)
from supersvg.gateway.ratelimit import RateLimiter
from supersvg.gateway.settings import GatewaySettings
from supersvg.gateway.signing import signed_path, verify_artifact

__all__ = ["create_app"]

log = logging.getLogger("supersvg.gateway")

#: Room for the multipart framing and the config field on top of the image itself.
FORM_OVERHEAD_BYTES = 256 * 1024
_IDEMPOTENCY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
_STATUS_PATTERN = "^(queued|running|completed|failed|cancelling|cancelled|expired)$"
_SERVED_ARTIFACTS = {
    "output.svg": "image/svg+xml",
    "preview.png": "image/png",
    "result.json": "application/json",
}
_MULTIPART_SCHEMA = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["image"],
                    "properties": {
                        "image": {
                            "type": "string",
                            "format": "binary",
                            "description": "PNG, JPEG or WebP, at most 25 MB",
                        },
                        # A JSON object in a form field: described as the object it is,
                        # with the part's content type, so clients and fuzzers build it.
                        "config": {
                            **JobConfig.model_json_schema(),
                            "description": "The job's settings (JSON); unknown keys are refused",
                        },
                    },
                },
                "encoding": {"config": {"contentType": "application/json"}},
            }
        },
    }
}


def _errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    """OpenAPI responses of the error model (these replace FastAPI's default 422 schema)."""
    out: dict[int | str, dict[str, object]] = {
        s: {"model": ErrorResponse, "description": _ERROR_TEXT[s]} for s in statuses
    }
    out["default"] = {"model": ErrorResponse, "description": "Any other error"}
    return out


_ERROR_TEXT = {
    400: "Invalid argument",
    401: "Missing or invalid bearer token",
    403: "Invalid or expired signature",
    404: "Not found",
    408: "The request body was sent too slowly",
    409: "The job is not in a state that allows this",
    413: "Payload too large",
    422: "Unsupported image, invalid config or callback URL, idempotency key reused",
    429: "Rate limited or over quota",
    500: "Internal error",
    503: "Scheduler unavailable or queue full",
}
_JOB_ERRORS = _errors(400, 401, 404, 429, 500, 503)


def _iso(ts: Timestamp, present: bool = True) -> str | None:
    if not present:
        return None
    dt = ts.ToDatetime(tzinfo=UTC)
    return dt.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _state(job: pb.Job) -> str:
    return str(pb.JobState.Name(job.state).removeprefix("JOB_STATE_").lower())


def job_status(job: pb.Job) -> JobStatus:
    return JobStatus(
        job_id=job.job_id,
        status=_state(job),  # type: ignore[arg-type]
        progress=job.progress,
        stage=job.stage,
        created_at=_iso(job.created_at) or "",
        started_at=_iso(job.started_at, job.HasField("started_at")),
        finished_at=_iso(job.finished_at, job.HasField("finished_at")),
        error=(
            {"code": job.error.code, "message": job.error.message}  # type: ignore[arg-type]
            if job.HasField("error")
            else None
        ),
        attempts=job.attempts,
        priority=priority_from_proto(job.config.priority),
        trace_id=job.trace_id,
    )


class Tenant:
    """The authenticated caller."""

    def __init__(self, tenant_id: str, rate_limit_per_minute: int) -> None:
        self.tenant_id = tenant_id
        self.rate_limit_per_minute = rate_limit_per_minute


def scheduler(request: Request) -> SchedulerClient:
    client: SchedulerClient = request.app.state.scheduler
    return client


async def authenticated(request: Request) -> Tenant:
    """The caller's tenant from the bearer token, after the tenant's rate limit."""
    settings: GatewaySettings = request.app.state.settings
    limiter: RateLimiter = request.app.state.limiter
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
        t = await scheduler(request).authenticate(token.strip(), settings.auth_cache_seconds)
    except ApiError as err:
        if err.status == 401:
            err.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        raise
    tenant = Tenant(t.tenant_id, t.rate_limit_per_minute or settings.rate_limit_per_minute)
    wait = limiter.check(tenant.tenant_id, tenant.rate_limit_per_minute)
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


TenantDep = Annotated[Tenant, Depends(authenticated)]


def create_app(
    settings: GatewaySettings | None = None, store: ArtifactStore | None = None
) -> FastAPI:
    """The gateway application. ``store`` defaults to the one the environment names."""
    settings = settings or GatewaySettings.from_env()
    artifacts = store or create_store()
    signing_key = (settings.signing_key or secrets.token_hex(32)).encode()
    if not settings.signing_key and isinstance(artifacts, LocalArtifactStore):
        log.warning("SUPERSVG_GATEWAY_SIGNING_KEY is unset: result links die with this process")
    limiter = RateLimiter()
    in_flight: set[tuple[str, str]] = set()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.scheduler = SchedulerClient(
            settings.scheduler_addr, settings.scheduler_timeout_seconds
        )
        try:
            yield
        finally:
            await app.state.scheduler.close()

    app = FastAPI(
        title="SuperSVG API",
        version=settings.version,
        description="Raster to SVG vectorization as asynchronous jobs.",
        openapi_url="/api/v1/openapi.json",
        docs_url="/api/v1/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.artifacts = artifacts
    app.state.limiter = limiter
    install_error_handlers(app)
    registry = CollectorRegistry()
    latency = Histogram(
        "supersvg_http_request_duration_seconds",
        "Gateway request latency by route",
        ["method", "route"],
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30),
        registry=registry,
    )
    requests = Counter(
        "supersvg_http_requests",
        "Gateway requests by route and status",
        ["method", "route", "status"],
        registry=registry,
    )

    def observe(method: str, route: str, status: int, seconds: float) -> None:
        latency.labels(method=method, route=route).observe(seconds)
        requests.labels(method=method, route=route, status=str(status)).inc()

    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_upload_bytes + FORM_OVERHEAD_BYTES,
        observe=observe,
        body_idle_timeout=settings.body_idle_timeout_seconds,
        body_timeout=settings.body_timeout_seconds,
    )

    def check_job_id(job_id: str) -> str:
        if not is_job_id(job_id):
            raise ApiError(404, "JOB_NOT_FOUND", "job not found")
        return job_id

    # ------------------------------------------------------------------ health
    @app.get("/api/v1/health", response_model=HealthResponse, tags=["health"])
    async def health() -> HealthResponse:
        return HealthResponse(status="ok", version=settings.version)

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        if await scheduler(request).ready():
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

    # ------------------------------------------------------------------ submit
    @app.post(
        "/api/v1/vectorize/jobs",
        status_code=202,
        response_model=SubmitResponse,
        openapi_extra=_MULTIPART_SCHEMA,
        responses=_errors(400, 401, 408, 409, 413, 422, 429, 500, 503),
        tags=["jobs"],
        summary="Submit an image for vectorization",
    )
    async def submit(request: Request, tenant: TenantDep) -> JSONResponse:
        idem = request.headers.get("idempotency-key")
        if idem is not None and not _IDEMPOTENCY_RE.match(idem):
            raise ApiError(400, "INVALID_ARGUMENT", "Idempotency-Key must be 1-255 visible ASCII")
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise ApiError(400, "INVALID_ARGUMENT", "expected multipart/form-data")
        flight = (tenant.tenant_id, idem) if idem else None
        if flight is not None:
            if flight in in_flight:
                raise ApiError(
                    409,
                    "IDEMPOTENCY_IN_PROGRESS",
                    "a request with this Idempotency-Key is still being processed",
                    headers={"Retry-After": "1"},
                )
            in_flight.add(flight)
        try:
            return await _submit(request, tenant, idem)
        finally:
            if flight is not None:
                in_flight.discard(flight)

    async def _submit(request: Request, tenant: Tenant, idem: str | None) -> JSONResponse:
        try:
            form = await request.form(max_files=2, max_fields=4)
        except (BodyTooLargeError, BodyTimeoutError):
            raise
        except MultiPartException as exc:
            raise ApiError(400, "INVALID_ARGUMENT", f"malformed multipart body: {exc}") from None
        try:
            image = form.get("image")
            if not isinstance(image, UploadFile):
                raise ApiError(400, "INVALID_ARGUMENT", "the 'image' file field is required")
            raw_config = form.get("config")
            if isinstance(raw_config, UploadFile):
                raw_config = (await raw_config.read()).decode("utf-8", "replace")
            config = _parse_config(raw_config)
            size = await asyncio.to_thread(_file_size, image)
            if size > settings.max_upload_bytes:
                raise ApiError(
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"the image is larger than {settings.max_upload_bytes} bytes",
                    {"limit_bytes": settings.max_upload_bytes},
                )
            await image.seek(0)
            head = await image.read(32)
            media = sniff_image_type(head)
            if media is None:
                raise ApiError(
                    422,
                    "UNSUPPORTED_MEDIA_TYPE",
                    "the image must be PNG, JPEG or WebP (checked by content)",
                    {"supported": ["image/png", "image/jpeg", "image/webp"]},
                )
            digest = await asyncio.to_thread(_hash_file, image, config)
            job_id = new_job_id()
            input_key = job_key(job_id, "input")
            await image.seek(0)
            await asyncio.to_thread(artifacts.put_file, input_key, image.file, size, media)
        finally:
            await form.close()
        req = pb.SubmitJobRequest(
            tenant_id=tenant.tenant_id,
            job_id=job_id,
            input_key=input_key,
            config=config.to_proto(),
            idempotency_key=idem or "",
            request_hash=digest,
        )
        try:
            resp = await scheduler(request).call("SubmitJob", req)
        except ApiError:
            await asyncio.to_thread(artifacts.delete_prefix, f"jobs/{job_id}/")
            raise
        job = resp.job
        headers = {"Location": f"/api/v1/vectorize/jobs/{job.job_id}"}
        if resp.deduplicated:
            # The replay points at the first job; our fresh upload is not needed.
            await asyncio.to_thread(artifacts.delete_prefix, f"jobs/{job_id}/")
            headers["Idempotency-Replayed"] = "true"
        log.info("job submitted", extra={"job_id": job.job_id, "tenant_id": tenant.tenant_id})
        body = SubmitResponse(
            job_id=job.job_id,
            status=_state(job),  # type: ignore[arg-type]  # a JobState name, checked by pydantic
            created_at=_iso(job.created_at) or "",
        )
        return JSONResponse(body.model_dump(), status_code=202, headers=headers)

    def _parse_config(raw: str | None) -> JobConfig:
        if raw is None or raw.strip() == "":
            return JobConfig()
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ApiError(400, "INVALID_ARGUMENT", f"config is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "INVALID_ARGUMENT", "config must be a JSON object")
        try:
            return JobConfig.model_validate(data)
        except ValidationError as exc:
            errors = config_problems(exc)
            first = errors[0]
            raise ApiError(
                422, "INVALID_CONFIG", f"{first['field']}: {first['msg']}", {"errors": errors}
            ) from None

    # ------------------------------------------------------------------ read / cancel
    @app.get("/api/v1/vectorize/jobs", response_model=JobList, responses=_JOB_ERRORS, tags=["jobs"])
    async def list_jobs(
        request: Request,
        tenant: TenantDep,
        page_size: Annotated[int, Query(ge=1, le=100)] = 20,
        page_token: Annotated[str, Query(max_length=200)] = "",
        status: Annotated[str | None, Query(pattern=_STATUS_PATTERN)] = None,
    ) -> JobList:
        state = pb.JobState.Value(f"JOB_STATE_{status.upper()}") if status else None
        resp = await scheduler(request).call(
            "ListJobs",
            pb.ListJobsRequest(
                tenant_id=tenant.tenant_id, page_size=page_size, page_token=page_token, state=state
            ),
        )
        return JobList(
            jobs=[job_status(j) for j in resp.jobs], next_page_token=resp.next_page_token or None
        )

    @app.get(
        "/api/v1/vectorize/jobs/{job_id}",
        response_model=JobStatus,
        responses=_JOB_ERRORS,
        tags=["jobs"],
    )
    async def get_job(request: Request, job_id: str, tenant: TenantDep) -> JobStatus:
        job = await scheduler(request).call(
            "GetJob", pb.GetJobRequest(tenant_id=tenant.tenant_id, job_id=check_job_id(job_id))
        )
        return job_status(job)

    @app.get(
        "/api/v1/vectorize/jobs/{job_id}/result",
        response_model=ResultResponse,
        responses=_errors(400, 401, 404, 409, 429, 500, 503),
        tags=["jobs"],
    )
    async def get_result(request: Request, job_id: str, tenant: TenantDep) -> ResultResponse:
        job = await scheduler(request).call(
            "GetJob", pb.GetJobRequest(tenant_id=tenant.tenant_id, job_id=check_job_id(job_id))
        )
        state = _state(job)
        if state != "completed" or not job.HasField("result"):
            code = "JOB_EXPIRED" if state == "expired" else "JOB_NOT_COMPLETED"
            raise ApiError(
                409,
                code,
                f"the job is {state}; a result exists only once it is completed",
                {"status": state},
            )
        ttl = settings.result_url_ttl_seconds
        svg_url, expires = _artifact_url(request, job.result.svg_key, ttl)
        png_url, _ = _artifact_url(request, job.result.preview_png_key, ttl)
        m = job.result.metrics
        return ResultResponse.model_validate(
            {
                "job_id": job.job_id,
                "status": "completed",
                "result": {
                    "svg_url": svg_url,
                    "preview_png_url": png_url,
                    "metrics": {
                        "num_paths": m.num_paths,
                        "duration_sec": m.duration_sec,
                        "psnr": m.psnr,
                        "ssim": m.ssim,
                        "svg_bytes": m.svg_bytes,
                    },
                    "expires_at": datetime.fromtimestamp(expires, UTC)
                    .isoformat()
                    .replace("+00:00", "Z"),
                },
            }
        )

    def _artifact_url(request: Request, key: str, ttl: int) -> tuple[str, int]:
        url = artifacts.presigned_get_url(key, timedelta(seconds=ttl))
        if url is not None:
            return url, int(datetime.now(UTC).timestamp()) + ttl
        path, expires = signed_path(signing_key, key, ttl)
        base = settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")
        return base + path, expires

    @app.post(
        "/api/v1/vectorize/jobs/{job_id}/cancel",
        response_model=CancelResponse,
        responses=_errors(400, 401, 404, 409, 429, 500, 503),
        tags=["jobs"],
    )
    async def cancel(request: Request, job_id: str, tenant: TenantDep) -> CancelResponse:
        job = await scheduler(request).call(
            "CancelJob",
            pb.CancelJobRequest(tenant_id=tenant.tenant_id, job_id=check_job_id(job_id)),
        )
        return CancelResponse(job_id=job.job_id, status=_state(job))  # type: ignore[arg-type]

    # ------------------------------------------------------------------ artifacts (local)
    @app.get(
        "/api/v1/artifacts/{key:path}",
        tags=["artifacts"],
        summary="Signed result link",
        responses={
            200: {
                "description": "The file",
                "content": {t: {} for t in _SERVED_ARTIFACTS.values()},
            },
            **_errors(400, 403, 404),
        },
    )
    async def artifact(
        key: str,
        expires: Annotated[int, Query()],
        signature: Annotated[str, Query(max_length=128)],
    ) -> Response:
        reason = verify_artifact(signing_key, key, expires, signature)
        if reason is not None:
            raise ApiError(403, "INVALID_SIGNATURE", f"the link is invalid: {reason}")
        try:
            validate_key(key)
        except InvalidKeyError:
            raise ApiError(404, "NOT_FOUND", "no such artifact") from None
        name = key.rsplit("/", 1)[-1]
        if not isinstance(artifacts, LocalArtifactStore) or name not in _SERVED_ARTIFACTS:
            raise ApiError(404, "NOT_FOUND", "no such artifact")
        path = artifacts.path(key)
        if not path.is_file():
            raise ApiError(404, "NOT_FOUND", "the artifact no longer exists")
        return FileResponse(
            path,
            media_type=_SERVED_ARTIFACTS[name],
            headers={
                "Cache-Control": "private, max-age=300",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
            },
        )

    # ------------------------------------------------------------------ web page
    static = settings.static_path()

    @app.get("/", include_in_schema=False)
    async def index() -> Response:
        page = static / "index.html"
        if not page.is_file():
            raise ApiError(404, "NOT_FOUND", "no web page is installed")
        return FileResponse(page, media_type="text/html")

    if static.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=static), name="static")
    return app


def _file_size(upload: UploadFile) -> int:
    f = upload.file
    f.seek(0, 2)
    size = f.tell()
    f.seek(0)
    return int(size)


def _hash_file(upload: UploadFile, config: JobConfig) -> str:
    """Hash of the image bytes and the canonical config: what makes two requests 'the same'."""
    h = hashlib.sha256()
    f = upload.file
    f.seek(0)
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
    h.update(b"\0" + json.dumps(config.model_dump(), sort_keys=True).encode())
    f.seek(0)
    return h.hexdigest()
