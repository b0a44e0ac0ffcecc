"""gRPC metadata keys the gateway, scheduler and worker exchange."""

from __future__ import annotations

__all__ = ["ERROR_CODE_KEY", "REQUEST_ID_KEY", "TRACEPARENT_KEY"]

#: Trailing metadata of a refused call: the error model's code (e.g. ``INVALID_CONFIG``).
ERROR_CODE_KEY = "supersvg-error-code"
#: The gateway's ``X-Request-Id``, so scheduler logs name the request they serve.
REQUEST_ID_KEY = "x-request-id"
#: W3C trace context of the caller's span.
TRACEPARENT_KEY = "traceparent"
