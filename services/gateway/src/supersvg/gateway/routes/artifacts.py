"""Signed result links served by the gateway itself (local artifact store only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response

from supersvg.common.storage import InvalidKeyError, LocalArtifactStore, validate_key
from supersvg.gateway.dependencies import ArtifactsDep, StateDep
from supersvg.gateway.errors import ApiError
from supersvg.gateway.openapi import errors
from supersvg.gateway.signing import verify_artifact

__all__ = ["SERVED_ARTIFACTS", "router"]

SERVED_ARTIFACTS = {
    "output.svg": "image/svg+xml",
    "preview.png": "image/png",
    "result.json": "application/json",
}

router = APIRouter()


@router.get(
    "/api/v1/artifacts/{key:path}",
    tags=["artifacts"],
    summary="Signed result link",
    responses={
        200: {
            "description": "The file",
            "content": {t: {} for t in SERVED_ARTIFACTS.values()},
        },
        **errors(400, 403, 404),
    },
)
async def artifact(
    key: str,
    expires: Annotated[int, Query()],
    signature: Annotated[str, Query(max_length=128)],
    state: StateDep,
    artifacts: ArtifactsDep,
) -> Response:
    reason = verify_artifact(state.signing_key, key, expires, signature)
    if reason is not None:
        raise ApiError(403, "INVALID_SIGNATURE", f"the link is invalid: {reason}")
    try:
        validate_key(key)
    except InvalidKeyError:
        raise ApiError(404, "NOT_FOUND", "no such artifact") from None
    name = key.rsplit("/", 1)[-1]
    if not isinstance(artifacts, LocalArtifactStore) or name not in SERVED_ARTIFACTS:
        raise ApiError(404, "NOT_FOUND", "no such artifact")
    path = artifacts.path(key)
    if not path.is_file():
        raise ApiError(404, "NOT_FOUND", "the artifact no longer exists")
    return FileResponse(
        path,
        media_type=SERVED_ARTIFACTS[name],
        headers={
            "Cache-Control": "private, max-age=300",
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
        },
    )
