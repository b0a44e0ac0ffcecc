"""Submitting a job: the multipart upload, its checks, the upload to the artifact store
and ``SubmitJob``; one submit per (tenant, Idempotency-Key) at a time in this replica."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import re

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from supersvg.api.jobs import config_problems
from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.common.ids import new_job_id
from supersvg.common.storage import ArtifactStore, job_key
from supersvg.gateway.client import SchedulerClient
from supersvg.gateway.dependencies import (
    ArtifactsDep,
    SchedulerDep,
    SettingsDep,
    StateDep,
    Tenant,
    TenantDep,
)
from supersvg.gateway.errors import ApiError
from supersvg.gateway.media import sniff_image_type
from supersvg.gateway.middleware import BodyTimeoutError, BodyTooLargeError
from supersvg.gateway.models import JobConfig, SubmitResponse
from supersvg.gateway.openapi import MULTIPART_SCHEMA, errors
from supersvg.gateway.settings import GatewaySettings
from supersvg.gateway.views import iso, state_name

__all__ = ["router"]

log = logging.getLogger("supersvg.gateway")

_IDEMPOTENCY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")

router = APIRouter()


@router.post(
    "/api/v1/vectorize/jobs",
    status_code=202,
    response_model=SubmitResponse,
    openapi_extra=MULTIPART_SCHEMA,
    responses=errors(400, 401, 408, 409, 413, 422, 429, 500, 503),
    tags=["jobs"],
    summary="Submit an image for vectorization",
)
async def submit(
    request: Request,
    *,
    tenant: TenantDep,
    state: StateDep,
    settings: SettingsDep,
    artifacts: ArtifactsDep,
    scheduler: SchedulerDep,
) -> JSONResponse:
    idem = request.headers.get("idempotency-key")
    if idem is not None and not _IDEMPOTENCY_RE.match(idem):
        raise ApiError(400, "INVALID_ARGUMENT", "Idempotency-Key must be 1-255 visible ASCII")
    ctype = request.headers.get("content-type", "")
    if not ctype.startswith("multipart/form-data"):
        raise ApiError(400, "INVALID_ARGUMENT", "expected multipart/form-data")
    flight = (tenant.tenant_id, idem) if idem else None
    if flight is not None:
        if flight in state.in_flight:
            raise ApiError(
                409,
                "IDEMPOTENCY_IN_PROGRESS",
                "a request with this Idempotency-Key is still being processed",
                headers={"Retry-After": "1"},
            )
        state.in_flight.add(flight)
    try:
        return await _submit(
            request,
            tenant=tenant,
            idem=idem,
            settings=settings,
            artifacts=artifacts,
            scheduler=scheduler,
        )
    finally:
        if flight is not None:
            state.in_flight.discard(flight)


async def _submit(
    request: Request,
    *,
    tenant: Tenant,
    idem: str | None,
    settings: GatewaySettings,
    artifacts: ArtifactStore,
    scheduler: SchedulerClient,
) -> JSONResponse:
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
        resp = await scheduler.call("SubmitJob", req)
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
        status=state_name(job),  # type: ignore[arg-type]  # a JobState name, checked by pydantic
        created_at=iso(job.created_at) or "",
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
