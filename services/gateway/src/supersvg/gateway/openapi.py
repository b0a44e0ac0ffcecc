"""OpenAPI descriptions the routes share: the submit form and the error responses."""

from __future__ import annotations

from typing import Any

from supersvg.gateway.models import ErrorResponse, JobConfig

__all__ = ["JOB_ERRORS", "MULTIPART_SCHEMA", "errors"]

MULTIPART_SCHEMA: dict[str, Any] = {
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


def errors(*statuses: int) -> dict[int | str, dict[str, object]]:
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
JOB_ERRORS = errors(400, 401, 404, 429, 500, 503)
