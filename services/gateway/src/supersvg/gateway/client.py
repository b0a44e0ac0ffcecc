"""The gateway's side of the scheduler gRPC contract, with errors mapped to the API's."""

from __future__ import annotations

import hashlib
import time
from typing import Any

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from supersvg.api.jobs.metadata import ERROR_CODE_KEY, REQUEST_ID_KEY
from supersvg.api.v1 import scheduler_pb2 as pb
from supersvg.api.v1 import scheduler_pb2_grpc as pb_grpc
from supersvg.common.grpc import ChannelSource
from supersvg.common.tls import TlsFiles
from supersvg.common.tracing import inject_context
from supersvg.gateway.errors import ApiError
from supersvg.gateway.middleware import request_id_var

__all__ = ["SchedulerClient", "map_rpc_error"]


_BY_CODE = {
    "QUOTA_EXCEEDED": 429,
    "CAPACITY_EXHAUSTED": 503,
    "IDEMPOTENCY_KEY_REUSED": 422,
    "INVALID_CONFIG": 422,
    "INVALID_CALLBACK_URL": 422,
    "CALLBACKS_DISABLED": 422,
    "JOB_NOT_FOUND": 404,
    "INVALID_STATE": 409,
}
_BY_STATUS = {
    grpc.StatusCode.INVALID_ARGUMENT: (400, "INVALID_ARGUMENT"),
    grpc.StatusCode.UNAUTHENTICATED: (401, "UNAUTHENTICATED"),
    grpc.StatusCode.PERMISSION_DENIED: (403, "PERMISSION_DENIED"),
    grpc.StatusCode.NOT_FOUND: (404, "JOB_NOT_FOUND"),
    grpc.StatusCode.FAILED_PRECONDITION: (409, "INVALID_STATE"),
    grpc.StatusCode.ALREADY_EXISTS: (409, "ALREADY_EXISTS"),
    grpc.StatusCode.RESOURCE_EXHAUSTED: (503, "CAPACITY_EXHAUSTED"),
    grpc.StatusCode.UNAVAILABLE: (503, "SCHEDULER_UNAVAILABLE"),
    grpc.StatusCode.DEADLINE_EXCEEDED: (503, "SCHEDULER_UNAVAILABLE"),
}


def map_rpc_error(exc: grpc.aio.AioRpcError) -> ApiError:
    code = ""
    for key, value in exc.trailing_metadata() or ():
        if key == ERROR_CODE_KEY and isinstance(value, str):
            code = value
    status, default_code = _BY_STATUS.get(exc.code(), (500, "INTERNAL"))
    if code in _BY_CODE:
        status = _BY_CODE[code]
    code = code or default_code
    message = exc.details() or code
    headers: dict[str, str] = {}
    if status in (429, 503):
        headers["Retry-After"] = "5"
    if status == 503 and code == "SCHEDULER_UNAVAILABLE":
        message = "the job scheduler is unavailable; retry later"
    if status == 500:
        message = "internal error"
    return ApiError(status, code, message, headers=headers)


class SchedulerClient:
    """One grpc.aio channel, shared by all requests; with ``tls``, mutual TLS and a new
    channel whenever the certificate files change (rotation without a restart)."""

    def __init__(self, addr: str, timeout_s: float, tls: TlsFiles | None = None) -> None:
        self.addr = addr
        self.timeout_s = timeout_s
        # Short reconnect backoff: after a scheduler restart the gateway is back within
        # seconds instead of gRPC's default of up to two minutes.
        self._channels = ChannelSource(
            addr,
            tls,
            options=[
                ("grpc.initial_reconnect_backoff_ms", 200),
                ("grpc.min_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 2000),
            ],
        )
        self._auth_cache: dict[str, tuple[pb.Tenant, float]] = {}

    async def close(self) -> None:
        await self._channels.aclose()

    async def call(self, name: str, request: Any) -> Any:
        method = getattr(self._channels.stub(pb_grpc.SchedulerServiceStub), name)
        metadata = list(inject_context().items())
        rid = request_id_var.get()
        if rid:
            metadata.append((REQUEST_ID_KEY, rid))
        try:
            return await method(request, timeout=self.timeout_s, metadata=tuple(metadata))
        except grpc.aio.AioRpcError as exc:
            raise map_rpc_error(exc) from None

    async def authenticate(self, token: str, cache_s: float) -> pb.Tenant:
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        hit = self._auth_cache.get(key)
        if hit is not None and hit[1] > now:
            return hit[0]
        tenant: pb.Tenant = await self.call("Authenticate", pb.AuthenticateRequest(token=token))
        if cache_s > 0:
            if len(self._auth_cache) > 10_000:
                self._auth_cache.clear()
            self._auth_cache[key] = (tenant, now + cache_s)
        return tenant

    async def ready(self) -> bool:
        try:
            resp = await self._channels.stub(health_pb2_grpc.HealthStub).Check(
                health_pb2.HealthCheckRequest(service=""),
                timeout=min(self.timeout_s, 2.0),
                wait_for_ready=True,
            )
        except grpc.aio.AioRpcError:
            return False
        return bool(resp.status == health_pb2.HealthCheckResponse.SERVING)
