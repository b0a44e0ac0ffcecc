"""uvicorn's HTTP protocol with a deadline for a request's headers.

uvicorn closes idle keep-alive connections but waits forever for a request whose headers
arrive a byte at a time (slowloris): each such connection holds a socket and a parser.
This protocol closes a connection that has not completed a request's headers within
``header_timeout`` seconds of connecting (or of the previous response). Slow bodies are
bounded separately by the request middleware (408).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["HeaderTimeoutProtocol", "protocol_with_header_timeout"]


class HeaderTimeoutProtocol(HttpToolsProtocol):
    header_timeout: float = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None

    def _arm_header_timer(self) -> None:
        self._cancel_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._header_timed_out)

    def _cancel_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _header_timed_out(self) -> None:
        self._header_timer = None
        if not self.transport.is_closing():
            self.transport.close()

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def on_headers_complete(self) -> None:
        self._cancel_header_timer()
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_header_timer()
        super().connection_lost(exc)


def protocol_with_header_timeout(seconds: float) -> type[HeaderTimeoutProtocol]:
    """A protocol class for ``uvicorn.run(http=...)`` with this header deadline."""
    return type("GatewayHttpProtocol", (HeaderTimeoutProtocol,), {"header_timeout": seconds})
