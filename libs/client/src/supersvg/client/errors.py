"""Typed errors mirroring the API's error model (``{"error": {"code", "message", "details"}}``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

__all__ = [
    "Conflict",
    "InvalidRequest",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "ServerError",
    "SuperSVGError",
    "TransportFailed",
    "Unauthenticated",
    "Unavailable",
    "Unprocessable",
    "WaitTimeout",
    "error_from_response",
]


class SuperSVGError(Exception):
    """Any error answered by the API (or the failure to reach it).

    ``status`` is the HTTP status (``None`` when no answer came back), ``code`` the
    machine-readable code from the payload, ``request_id`` the ``X-Request-Id`` to quote
    when reporting a problem.
    """

    status: int | None = None
    default_code = "UNKNOWN"

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str | None = None,
        details: Mapping[str, Any] | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        if status is not None:
            self.status = status
        self.code = code or self.default_code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})
        self.request_id = request_id

    def __str__(self) -> str:
        head = f"{self.status} {self.code}" if self.status is not None else self.code
        text = f"{head}: {self.message}"
        if self.request_id:
            text += f" (request_id={self.request_id})"
        return text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"message={self.message!r}, request_id={self.request_id!r})"
        )


class InvalidRequest(SuperSVGError):
    """400: the request is malformed (bad config JSON, missing image...)."""

    status = 400
    default_code = "INVALID_ARGUMENT"


class Unauthenticated(SuperSVGError):
    """401: no token, or a token the server does not know."""

    status = 401
    default_code = "UNAUTHENTICATED"


class PermissionDenied(SuperSVGError):
    """403: the token is valid but may not do this (e.g. another tenant's job)."""

    status = 403
    default_code = "PERMISSION_DENIED"


class NotFound(SuperSVGError):
    """404: no such job (or it expired and was removed)."""

    status = 404
    default_code = "NOT_FOUND"


class Conflict(SuperSVGError):
    """409: invalid state transition (cancel a finished job, result of an unfinished one...)."""

    status = 409
    default_code = "INVALID_STATE"


class PayloadTooLarge(SuperSVGError):
    """413: the upload exceeds the server's size limit."""

    status = 413
    default_code = "PAYLOAD_TOO_LARGE"


class Unprocessable(SuperSVGError):
    """422: unsupported media type or configuration values."""

    status = 422
    default_code = "INVALID_CONFIG"


class RateLimited(SuperSVGError):
    """429: rate limit or quota exceeded; ``retry_after`` holds the server's hint in seconds."""

    status = 429
    default_code = "RATE_LIMITED"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(SuperSVGError):
    """500 (and other 5xx without a closer match): the server failed."""

    status = 500
    default_code = "INTERNAL"


class Unavailable(SuperSVGError):
    """503: no capacity right now; ``retry_after`` holds the server's hint in seconds."""

    status = 503
    default_code = "UNAVAILABLE"

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class TransportFailed(SuperSVGError):
    """The server could not be reached (connection refused, reset, timed out)."""

    default_code = "TRANSPORT"


class WaitTimeout(SuperSVGError, TimeoutError):
    """``wait`` gave up before the job reached a final status; ``job`` is the last one seen."""

    default_code = "WAIT_TIMEOUT"

    def __init__(self, message: str, *, job: Any = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.job = job


_BY_STATUS: dict[int, type[SuperSVGError]] = {
    400: InvalidRequest,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    415: Unprocessable,
    422: Unprocessable,
    429: RateLimited,
    500: ServerError,
    503: Unavailable,
}


def error_class_for(status: int) -> type[SuperSVGError]:
    """The error class for a status (unknown 4xx: the base class, unknown 5xx: ServerError)."""
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    if status >= 500:
        return ServerError
    return SuperSVGError


def error_from_response(
    status: int,
    body: bytes,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> SuperSVGError:
    """Build the typed error for an error answer; tolerates bodies that are not the error model."""
    code: str | None = None
    message = ""
    details: dict[str, Any] = {}
    try:
        payload = json.loads(body) if body else None
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        err = payload["error"]
        code = str(err["code"]) if err.get("code") is not None else None
        message = str(err.get("message") or "")
        if isinstance(err.get("details"), dict):
            details = err["details"]
        request_id = request_id or err.get("request_id") or details.get("request_id")
    elif isinstance(payload, dict) and "detail" in payload:
        # A framework-level answer that bypassed the error model still deserves its text.
        detail = payload["detail"]
        message = detail if isinstance(detail, str) else json.dumps(detail)
    elif body:
        message = body[:500].decode("utf-8", "replace").strip()
    cls = error_class_for(status)
    if not message:
        message = f"HTTP {status}"
    kwargs: dict[str, Any] = {
        "status": status,
        "code": code,
        "details": details,
        "request_id": request_id,
    }
    if cls in (RateLimited, Unavailable):
        kwargs["retry_after"] = retry_after
    return cls(message, **kwargs)
