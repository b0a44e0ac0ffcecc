"""A small HTTP proxy on loopback that injects failures in front of the real gateway.

For each request it takes the next planned fault (if any) among those whose filter
matches: answer 429/503 (with ``Retry-After`` and the API's error payload) without
forwarding, close the connection without answering, or forward and then drop the answer
(the server acted, the client never heard). Everything else is forwarded unchanged. It
records every request it saw, so tests can check what the client actually sent.
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["Fault", "FaultProxy", "Seen", "fault_proxy"]

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
}


@dataclasses.dataclass
class Fault:
    """One planned failure: ``kind`` is an HTTP status (429, 503, 500...), ``"drop"``
    (close without answering) or ``"lose-answer"`` (forward, then close)."""

    kind: int | str
    retry_after: str | None = None
    method: str | None = None
    path_prefix: str | None = None

    def matches(self, method: str, path: str) -> bool:
        if self.method and method != self.method:
            return False
        return not (self.path_prefix and not path.startswith(self.path_prefix))


@dataclasses.dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    outcome: str  # "forwarded:<status>", "injected:<status>", "dropped", "lost:<status>"


class FaultProxy:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        if parts.hostname is None or parts.port is None:
            raise ValueError(f"upstream must be http://host:port, got {upstream!r}")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port
        self.plan: list[Fault] = []
        self.seen: list[Seen] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.plan.extend(faults)

    def reset(self) -> None:
        with self._lock:
            self.plan.clear()
            self.seen.clear()

    def _take(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for i, fault in enumerate(self.plan):
                if fault.matches(method, path):
                    return self.plan.pop(i)
        return None

    def _record(self, seen: Seen) -> None:
        with self._lock:
            self.seen.append(seen)

    def _handler_class(self) -> Callable[..., BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass  # quiet: tests read ``proxy.seen`` instead

            def _body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length else b""

            def _handle(self) -> None:
                body = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                fault = proxy._take(self.command, self.path)
                if fault is not None and fault.kind == "drop":
                    proxy._record(Seen(self.command, self.path, headers, "dropped"))
                    self._abort()
                    return
                if fault is not None and isinstance(fault.kind, int):
                    self._inject(fault, headers)
                    return
                status, reason, answer_headers, answer = self._forward(body)
                if fault is not None and fault.kind == "lose-answer":
                    proxy._record(Seen(self.command, self.path, headers, f"lost:{status}"))
                    self._abort()
                    return
                proxy._record(Seen(self.command, self.path, headers, f"forwarded:{status}"))
                self.send_response(status, reason)
                for name, value in answer_headers:
                    if name.lower() not in _HOP_BY_HOP and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def _inject(self, fault: Fault, headers: dict[str, str]) -> None:
                assert isinstance(fault.kind, int)
                code = {429: "RATE_LIMITED", 503: "UNAVAILABLE"}.get(fault.kind, "INTERNAL")
                payload = json.dumps(
                    {
                        "error": {
                            "code": code,
                            "message": "injected by the test proxy",
                            "details": {},
                        }
                    }
                ).encode()
                proxy._record(Seen(self.command, self.path, headers, f"injected:{fault.kind}"))
                self.send_response(fault.kind)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.send_header("X-Request-Id", headers.get("x-request-id", "req_proxy"))
                if fault.retry_after is not None:
                    self.send_header("Retry-After", fault.retry_after)
                self.end_headers()
                self.wfile.write(payload)

            def _forward(self, body: bytes) -> tuple[int, str, list[tuple[str, str]], bytes]:
                conn = http.client.HTTPConnection(
                    proxy.upstream_host, proxy.upstream_port, timeout=60
                )
                try:
                    forward_headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP
                    }
                    conn.request(
                        self.command, self.path, body=body or None, headers=forward_headers
                    )
                    resp = conn.getresponse()
                    return resp.status, resp.reason, resp.getheaders(), resp.read()
                finally:
                    conn.close()

            def _abort(self) -> None:
                self.close_connection = True
                with suppress(OSError):
                    self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = _handle
            do_POST = _handle
            do_DELETE = _handle
            do_PUT = _handle

        return Handler


@contextmanager
def fault_proxy(upstream: str) -> Iterator[FaultProxy]:
    proxy = FaultProxy(upstream)
    proxy.start()
    try:
        yield proxy
    finally:
        proxy.stop()
