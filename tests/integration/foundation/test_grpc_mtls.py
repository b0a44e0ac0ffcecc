"""Mutual TLS on the internal gRPC links, on loopback with real certificates: who is let in,
who is refused, and certificate rotation (new certificates from a new CA) while the server
keeps running."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from supersvg.common.grpc import ChannelSource, HealthState, create_server
from supersvg.common.tls import TlsFiles, TlsReloadError
from tools.testing.certs import Authority, write_set

SERVING = health_pb2.HealthCheckResponse.SERVING
HOSTS = ("localhost", "127.0.0.1")


async def _check(channel: grpc.aio.Channel) -> int:
    stub = health_pb2_grpc.HealthStub(channel)
    resp = await stub.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)
    return int(resp.status)


async def _status(addr: str, creds: grpc.ChannelCredentials) -> int | grpc.StatusCode:
    """The health answer through a fresh connection, or the RPC's error code."""
    options = [("grpc.use_local_subchannel_pool", 1)]
    async with grpc.aio.secure_channel(addr, creds, options=options) as channel:
        try:
            return await _check(channel)
        except grpc.aio.AioRpcError as exc:
            return exc.code()


def _creds(
    ca: bytes, cert: bytes | None = None, key: bytes | None = None
) -> grpc.ChannelCredentials:
    return grpc.ssl_channel_credentials(
        root_certificates=ca, private_key=key, certificate_chain=cert
    )


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[tuple[str, Authority, TlsFiles]]:
    ca = Authority("ca-one")
    files = TlsFiles.in_dir(
        write_set(tmp_path / "server", ca.pem, ca.issue("scheduler", True, HOSTS))
    )
    srv, port, health = create_server("127.0.0.1:0", tls=files)
    await srv.start()
    await health.set_serving(True)
    try:
        yield f"127.0.0.1:{port}", ca, files
    finally:
        await srv.stop(0)


async def test_client_certificate_from_the_ca_is_served(
    server: tuple[str, Authority, TlsFiles], tmp_path: Path
) -> None:
    addr, ca, _ = server
    client = ca.issue("gateway", False)
    assert await _status(addr, _creds(ca.pem, client.cert_pem, client.key_pem)) == SERVING
    # The shared client helper, from files.
    files = TlsFiles.in_dir(write_set(tmp_path / "client", ca.pem, client))
    source = ChannelSource(addr, files)
    try:
        assert await _check(source.stub(lambda ch: ch)) == SERVING
    finally:
        await source.aclose()


async def test_client_without_certificate_is_refused(
    server: tuple[str, Authority, TlsFiles],
) -> None:
    addr, ca, _ = server
    assert await _status(addr, _creds(ca.pem)) == grpc.StatusCode.UNAVAILABLE


async def test_client_certificate_from_another_ca_is_refused(
    server: tuple[str, Authority, TlsFiles],
) -> None:
    addr, ca, _ = server
    other = Authority("ca-other").issue("intruder", False)
    assert (
        await _status(addr, _creds(ca.pem, other.cert_pem, other.key_pem))
        == grpc.StatusCode.UNAVAILABLE
    )


async def test_plaintext_client_is_refused(server: tuple[str, Authority, TlsFiles]) -> None:
    addr, _, _ = server
    async with grpc.aio.insecure_channel(addr) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as err:
            await _check(channel)
    assert err.value.code() == grpc.StatusCode.UNAVAILABLE


async def test_rotation_to_a_new_ca_without_restart(
    server: tuple[str, Authority, TlsFiles], tmp_path: Path
) -> None:
    addr, ca1, server_files = server
    client_dir = tmp_path / "client"
    old_client = ca1.issue("gateway", False)
    source = ChannelSource(addr, TlsFiles.in_dir(write_set(client_dir, ca1.pem, old_client)))
    try:
        assert await _check(source.stub(lambda ch: ch)) == SERVING
        assert source.generation == 0

        # Rotate both sides to certificates of a new CA; the server trusts only it now.
        ca2 = Authority("ca-two")
        write_set(server_files.ca.parent, ca2.pem, ca2.issue("scheduler", True, HOSTS))
        new_client = ca2.issue("gateway", False)
        write_set(client_dir, ca2.pem, new_client)

        # The same server answers a new connection with the new set...
        assert (
            await _status(addr, _creds(ca2.pem, new_client.cert_pem, new_client.key_pem)) == SERVING
        )
        # ...and refuses the old client certificate (its CA is no longer trusted).
        assert (
            await _status(addr, _creds(ca2.pem, old_client.cert_pem, old_client.key_pem))
            == grpc.StatusCode.UNAVAILABLE
        )
        # The reloading client saw its files change and opened a new channel that works.
        assert await _check(source.stub(lambda ch: ch)) == SERVING
        assert source.generation == 1
    finally:
        await source.aclose()


async def test_half_written_rotation_keeps_the_previous_set(
    server: tuple[str, Authority, TlsFiles],
) -> None:
    addr, ca1, server_files = server
    client = ca1.issue("gateway", False)
    # Only the certificate is replaced; its key has not arrived yet.
    ca2 = Authority("ca-two")
    server_files.cert.write_bytes(ca2.issue("scheduler", True, HOSTS).cert_pem)
    with pytest.raises(TlsReloadError):
        server_files.read()
    assert await _status(addr, _creds(ca1.pem, client.cert_pem, client.key_pem)) == SERVING


def test_incomplete_settings_are_refused() -> None:
    from supersvg.common.settings import ConfigurationError
    from supersvg.common.tls import GrpcTlsSettings

    with pytest.raises(ConfigurationError, match="go together"):
        GrpcTlsSettings.from_env(tls_ca_file="/x/ca.crt")
    assert GrpcTlsSettings.from_env().tls_files() is None


async def test_health_state_is_shared_with_a_plaintext_probe_port(tmp_path: Path) -> None:
    from supersvg.common.grpc import create_health_server

    ca = Authority()
    files = TlsFiles.in_dir(write_set(tmp_path / "s", ca.pem, ca.issue("s", True, HOSTS)))
    srv, _, health = create_server("127.0.0.1:0", tls=files)
    probe, probe_port = create_health_server("127.0.0.1:0", health)
    assert isinstance(health, HealthState)
    await srv.start()
    await probe.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{probe_port}") as channel:
            await health.set_serving(True)
            assert await _check(channel) == SERVING
            await health.set_serving(False)
            assert await _check(channel) == health_pb2.HealthCheckResponse.NOT_SERVING
    finally:
        await probe.stop(0)
        await srv.stop(0)


async def test_missing_files_fail_at_start_with_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(TlsReloadError, match="cannot read certificate files"):
        create_server("127.0.0.1:0", tls=TlsFiles.in_dir(tmp_path / "nowhere"))


async def test_blocking_client_follows_rotation(
    server: tuple[str, Authority, TlsFiles], tmp_path: Path
) -> None:
    """The worker's blocking channel: the same source works before and after a new CA."""
    addr, ca1, server_files = server
    client_dir = write_set(tmp_path / "worker", ca1.pem, ca1.issue("worker", False))
    source = ChannelSource(addr, TlsFiles.in_dir(client_dir), use_aio=False)

    def check() -> int:
        stub = source.stub(health_pb2_grpc.HealthStub)
        return int(stub.Check(health_pb2.HealthCheckRequest(), timeout=5).status)

    try:
        assert await asyncio.to_thread(check) == SERVING
        ca2 = Authority("ca-two")
        write_set(server_files.ca.parent, ca2.pem, ca2.issue("scheduler", True, HOSTS))
        write_set(client_dir, ca2.pem, ca2.issue("worker", False))
        assert await asyncio.to_thread(check) == SERVING
        assert source.generation == 1
    finally:
        source.close()
