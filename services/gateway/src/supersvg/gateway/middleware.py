"""ASGI middleware: request ids, the upload size limit while streaming, a span per request,
and one access log line per request."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from supersvg.common.tracing import extract_context

__all__ = [
    "BodyTimeoutError",
    "BodyTooLargeError",
    "RequestContextMiddleware",
    "RequestIdLogFilter",
    "request_id_var",
]

log = logging.getLogger("supersvg.gateway.access")
tracer = trace.get_tracer("supersvg.gateway")
request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="")
_REQUEST_ID_RE = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class BodyTooLargeError(Exception):
    """The request body passed the limit while it was being received."""


class BodyTimeoutError(Exception):
    """The client sent the request body too slowly (paused, or in total)."""


class RequestIdLogFilter(logging.Filter):
    """Adds the current request id to every log record made while serving a request."""

    def filter(self, record: logging.LogRecord) -> bool:
        rid = request_id_var.get()
        if rid and not hasattr(record, "request_id"):
            record.request_id = rid
        return True


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        observe: Callable[[str, str, int, float], None] | None = None,
        body_idle_timeout: float = 30.0,
        body_timeout: float = 300.0,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_idle_timeout = body_idle_timeout
        self.body_timeout = body_timeout
        #: Called with (method, route template, status, seconds) after each request.
        self.observe = observe

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        rid = incoming if _REQUEST_ID_RE.match(incoming) else uuid.uuid4().hex
        token = request_id_var.set(rid)
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status_holder = {"status": 500, "started": False}
        parent = headers.get("traceparent")
        ctx = extract_context({"traceparent": parent}) if parent else None
        span_name = f"{scope['method']} {scope['path']}"
        kind = trace.SpanKind.SERVER
        with tracer.start_as_current_span(span_name, context=ctx, kind=kind) as span:
            span_ctx = span.get_span_context()
            trace_id = f"{span_ctx.trace_id:032x}"

            async def send_wrapper(message: Message) -> None:
                if message["type"] == "http.response.start":
                    status_holder["status"] = message["status"]
                    status_holder["started"] = True
                    out = list(message.get("headers", []))
                    out.append((b"x-request-id", rid.encode()))
                    out.append((b"x-trace-id", trace_id.encode()))
                    message = {**message, "headers": out}
                await send(message)

            received = 0
            declared = headers.get("content-length", "")
            try:
                if declared.isdigit() and int(declared) > self.max_body_bytes:
                    raise BodyTooLargeError

                body_done = False
                body_deadline = started + self.body_timeout

                async def receive_wrapper() -> Message:
                    nonlocal received, body_done
                    if body_done:  # later calls wait for a disconnect: no deadline
                        return await receive()
                    # A slow client (slowloris) must not hold a connection and its upload
                    # buffer forever: bound each pause and the whole body.
                    left = min(self.body_idle_timeout, body_deadline - time.perf_counter())
                    try:
                        message = await asyncio.wait_for(receive(), max(left, 0.001))
                    except TimeoutError:
                        raise BodyTimeoutError from None
                    if message["type"] == "http.request":
                        received += len(message.get("body", b""))
                        if received > self.max_body_bytes:
                            raise BodyTooLargeError
                        body_done = not message.get("more_body", False)
                    return message

                await self.app(scope, receive_wrapper, send_wrapper)
            except BodyTooLargeError:
                if status_holder["started"]:
                    raise
                await self._error(
                    send_wrapper,
                    413,
                    "PAYLOAD_TOO_LARGE",
                    f"the request is larger than {self.max_body_bytes} bytes",
                    {"limit_bytes": self.max_body_bytes},
                )
            except BodyTimeoutError:
                if status_holder["started"]:
                    raise
                await self._error(
                    send_wrapper,
                    408,
                    "REQUEST_TIMEOUT",
                    "the request body was not received in time",
                    {
                        "idle_timeout_seconds": self.body_idle_timeout,
                        "timeout_seconds": self.body_timeout,
                    },
                )
            except Exception:
                # Answer here rather than in Starlette's outer error middleware, so that a
                # 500 carries the error payload and X-Request-Id like every other answer.
                log.exception("unhandled error")
                if status_holder["started"]:
                    raise
                await self._error(send_wrapper, 500, "INTERNAL", "internal error", {})
            finally:
                span.set_attribute("http.status_code", int(status_holder["status"]))
                if self.observe is not None:
                    # The route template, never the raw path: ids would explode the labels.
                    route = getattr(scope.get("route"), "path", None) or "unmatched"
                    self.observe(
                        scope["method"],
                        route,
                        int(status_holder["status"]),
                        time.perf_counter() - started,
                    )
                log.info(
                    "request",
                    extra={
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status_holder["status"],
                        "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                    },
                )
                request_id_var.reset(token)

    async def _error(
        self, send: Any, status: int, code: str, message: str, details: dict[str, Any]
    ) -> None:
        import json

        body = json.dumps({"error": {"code": code, "message": message, "details": details}})
        data = body.encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
