"""A real HTTP file server on loopback that speaks Range and can drop connections."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class FileServer:
    """Serves ``files`` (path -> bytes).

    ``drop[path]`` is a list of cuts for the next GETs of ``path``, in order: ``n`` sends
    ``n`` body bytes and drops the connection, ``None`` serves the GET whole.
    """

    host: str = "127.0.0.1"
    port: int = 0
    files: dict[str, bytes] = field(default_factory=dict)
    drop: dict[str, list[int | None]] = field(default_factory=dict)
    log: list[tuple[str, str | None]] = field(default_factory=list)
    ranges: bool = True

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def gets(self, path: str) -> list[str | None]:
        """Range headers of every GET of ``path`` so far."""
        return [r for p, r in self.log if p == path]


def _handler(server: FileServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            rng = self.headers.get("Range")
            server.log.append((path, rng))
            body = server.files.get(path)
            if body is None:
                self.send_response(404)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            start, end = 0, len(body) - 1
            status = 200
            if rng and server.ranges:
                first, _, last = rng.removeprefix("bytes=").partition("-")
                start = int(first)
                end = min(int(last), len(body) - 1) if last else len(body) - 1
                if start >= len(body):
                    self.send_response(416)
                    self.send_header("Content-Range", f"bytes */{len(body)}")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                status = 206
            chunk = body[start : end + 1]
            self.send_response(status)
            self.send_header("Content-Length", str(len(chunk)))
            self.send_header("Accept-Ranges", "bytes")
            if status == 206:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
            self.end_headers()
            cuts = server.drop.get(path)
            cut = cuts.pop(0) if cuts else None
            if cut is not None:
                # Send part of the body, then drop the connection mid-file.
                self.wfile.write(chunk[:cut])
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)
                return
            self.wfile.write(chunk)

    return Handler


@pytest.fixture
def file_server() -> Iterator[FileServer]:
    state = FileServer()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    state.port = int(httpd.server_address[1])
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)
