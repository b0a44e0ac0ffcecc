"""gRPC helpers: an asyncio server with the standard health service and reflection-free
defaults (optionally mutual TLS, reloaded on certificate rotation), client channels that
follow rotated certificates, and trace-context propagation through metadata."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from supersvg.common.tls import CertificateWatcher, TlsFiles, TlsMaterial

__all__ = [
    "ChannelSource",
    "HealthState",
    "create_health_server",
    "create_server",
    "metadata_to_carrier",
    "server_credentials",
]

_Stub = TypeVar("_Stub")

#: How long a replaced client channel keeps serving the calls already on it.
OLD_CHANNEL_GRACE_S = 30.0

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
    tls: TlsFiles | None = None,
) -> tuple[grpc.aio.Server, int, HealthState]:
    """An asyncio gRPC server bound to ``address`` (port 0 picks a free one) with health.

    With ``tls`` the port speaks mutual TLS only (client certificates from its CA, reloaded
    on rotation). Returns the server (not started), the bound port and the health state;
    register the component's servicers, then ``await server.start()`` and
    ``await health.set_serving(True)``.
    """
    # Certificates first: unreadable files fail here, before a server exists.
    credentials = server_credentials(tls) if tls is not None else None
    server = grpc.aio.server(interceptors=list(interceptors), options=list(DEFAULT_OPTIONS))
    if credentials is None:
        port = server.add_insecure_port(address)
    else:
        port = server.add_secure_port(address, credentials)
    if port == 0:
        raise RuntimeError(f"could not bind gRPC server to {address}")
    state = HealthState(services)
    health_pb2_grpc.add_HealthServicer_to_server(state.servicer, server)
    return server, port, state


def create_health_server(address: str, state: HealthState) -> tuple[grpc.aio.Server, int]:
    """A plaintext server with only the health service of ``state``.

    Kubelet's gRPC probes cannot present a client certificate; when the main port requires
    mutual TLS, probes use this port, which answers nothing but serving/not serving.
    """
    server = grpc.aio.server(options=list(DEFAULT_OPTIONS))
    port = server.add_insecure_port(address)
    if port == 0:
        raise RuntimeError(f"could not bind gRPC health server to {address}")
    health_pb2_grpc.add_HealthServicer_to_server(state.servicer, server)
    return server, port


def metadata_to_carrier(metadata: Iterable[tuple[str, str | bytes]] | None) -> dict[str, str]:
    """Invocation metadata as a str->str mapping for trace-context extraction."""
    out: dict[str, str] = {}
    for key, value in metadata or ():
        if isinstance(value, bytes):
            continue
        out[key] = value
    return out


def _server_config(material: TlsMaterial) -> grpc.ServerCertificateConfiguration:
    return grpc.ssl_server_certificate_configuration(
        [(material.key, material.cert)], root_certificates=material.ca
    )


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Server credentials that require a client certificate from the CA in ``files.ca``.

    gRPC asks the fetcher before each new connection's handshake; it returns a new
    configuration only when the files changed, so a rotation (new certificate, new CA)
    applies to new connections without a restart.
    """
    watcher = CertificateWatcher(files)

    def fetch() -> grpc.ServerCertificateConfiguration | None:
        material = watcher.poll()
        return None if material is None else _server_config(material)

    return grpc.dynamic_ssl_server_credentials(
        _server_config(watcher.current), fetch, require_client_authentication=True
    )


class ChannelSource:
    """A client channel to ``addr``; with TLS files, rebuilt whenever they change.

    ``stub(Stub)`` returns a stub on the channel to use now (one per stub class and
    channel). A replaced channel is closed after :data:`OLD_CHANNEL_GRACE_S`, so calls
    already on it finish. ``use_aio`` picks ``grpc.aio`` channels (gateway) or blocking
    ones (worker).
    """

    def __init__(
        self,
        addr: str,
        tls: TlsFiles | None = None,
        options: Sequence[tuple[str, Any]] = (),
        use_aio: bool = True,
    ) -> None:
        self.addr = addr
        self.use_aio = use_aio
        self.options = list(options)
        self.watcher = CertificateWatcher(tls) if tls is not None else None
        if self.watcher is not None:
            # A new channel must open a new connection (new handshake with the new
            # certificate), not reuse one from gRPC's process-wide subchannel pool.
            self.options.append(("grpc.use_local_subchannel_pool", 1))
        self._lock = threading.Lock()
        self.generation = 0
        self.channel: Any = self._open()
        self._stubs: dict[Callable[[Any], Any], Any] = {}
        self._closing: set[Any] = set()

    def _open(self) -> Any:
        mod: Any = grpc.aio if self.use_aio else grpc
        if self.watcher is None:
            return mod.insecure_channel(self.addr, options=self.options)
        m = self.watcher.current
        creds = grpc.ssl_channel_credentials(
            root_certificates=m.ca, private_key=m.key, certificate_chain=m.cert
        )
        return mod.secure_channel(self.addr, creds, options=self.options)

    def stub(self, stub_class: Callable[[Any], _Stub]) -> _Stub:
        with self._lock:
            if self.watcher is not None and self.watcher.poll() is not None:
                old, self.channel = self.channel, self._open()
                self.generation += 1
                self._stubs.clear()
                self._retire(old)
            if stub_class not in self._stubs:
                self._stubs[stub_class] = stub_class(self.channel)
            stub: _Stub = self._stubs[stub_class]
            return stub

    def _retire(self, old: Any) -> None:
        if self.use_aio:
            task = asyncio.get_running_loop().create_task(old.close(OLD_CHANNEL_GRACE_S))
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)
        else:
            timer = threading.Timer(OLD_CHANNEL_GRACE_S, old.close)
            timer.daemon = True
            timer.start()

    async def aclose(self) -> None:
        await self.channel.close()
        for task in list(self._closing):
            task.cancel()

    def close(self) -> None:
        self.channel.close()
