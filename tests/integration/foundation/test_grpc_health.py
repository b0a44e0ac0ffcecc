"""The common gRPC server helper serves the standard health protocol on a real port."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from supersvg.common.grpc import create_server


async def test_health_service_reports_serving_then_not_serving() -> None:
    server, port, health = create_server("127.0.0.1:0", services=["supersvg.api.v1.Demo"])
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            await health.set_serving(True)
            resp = await stub.Check(health_pb2.HealthCheckRequest(service="supersvg.api.v1.Demo"))
            assert resp.status == health_pb2.HealthCheckResponse.SERVING
            await health.set_serving(False)
            resp = await stub.Check(health_pb2.HealthCheckRequest(service=""))
            assert resp.status == health_pb2.HealthCheckResponse.NOT_SERVING
            try:
                await stub.Check(health_pb2.HealthCheckRequest(service="unknown"))
            except grpc.aio.AioRpcError as err:
                assert err.code() == grpc.StatusCode.NOT_FOUND
            else:
                raise AssertionError("unknown service must be NOT_FOUND")
    finally:
        await server.stop(None)
