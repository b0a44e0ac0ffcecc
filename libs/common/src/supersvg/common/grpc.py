"""gRPC server helpers: an asyncio server with the standard health service and reflection-free
defaults, plus trace-context propagation through metadata."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

__all__ = [
    "HealthState",
    "create_server",
    "metadata_to_carrier",
]

DEFAULT_OPTIONS: Sequence[tuple[str, int]] = (
    ("grpc.max_receive_message_length", 8 * 1024 * 1024),
    ("grpc.max_send_message_length", 8 * 1024 * 1024),
    ("grpc.keepalive_time_ms", 30_000),
)


class HealthState:
    """Wraps the standard health servicer; ``set_serving(False)`` during shutdown."""

    def __init__(self, services: Iterable[str]) -> None:
        self.servicer = health.aio.HealthServicer()
        self.services = ("", *services)

    async def set_serving(self, serving: bool) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if serving
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for name in self.services:
            await self.servicer.set(name, status)


def create_server(
    address: str,
    services: Iterable[str] = (),
    interceptors: Sequence[grpc.aio.ServerInterceptor] = (),
) -> tuple[grpc.aio.Server, int, HealthState]:
    """An asyncio gRPC server bound to ``address`` (port 0 picks a free one) with health.

    Returns the server (not started), the bound port and the health state; register the
    component's servicers, then ``await server.start()`` and ``await health.set_serving(True)``.
    """
    server = grpc.aio.server(interceptors=list(interceptors), options=list(DEFAULT_OPTIONS))
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"could not bind gRPC server to {address}")
    state = HealthState(services)
    health_pb2_grpc.add_HealthServicer_to_server(state.servicer, server)
    return server, port, state


def metadata_to_carrier(metadata: Iterable[tuple[str, str | bytes]] | None) -> dict[str, str]:
    """Invocation metadata as a str->str mapping for trace-context extraction."""
    out: dict[str, str] = {}
    for key, value in metadata or ():
        if isinstance(value, bytes):
            continue
        out[key] = value
    return out
