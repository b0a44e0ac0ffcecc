"""Job callbacks: Standard Webhooks signing and an SSRF-safe HTTP POST.

The URL's host is resolved here and every address is checked; the connection goes to a
checked address (so a DNS answer that changes between check and connect cannot redirect
us), with the original host name for TLS (SNI, certificate) and the Host header.
Redirects are followed only with 307/308 and each target is checked the same way.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

__all__ = ["CallbackRefusedError", "DeliveryError", "check_url", "post_json", "resolve_checked"]

MAX_REDIRECTS = 3


class CallbackRefusedError(ValueError):
    """The URL is not allowed (scheme, or an address in a forbidden range). Permanent."""


class DeliveryError(RuntimeError):
    """The receiver could not be reached or did not answer 2xx. Retried with backoff."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str


def check_url(url: str) -> Target:
    """Parse and check the form of a callback URL (http/https, a host, no credentials)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise CallbackRefusedError("callback_url must be an http or https URL")
    if not parts.hostname:
        raise CallbackRefusedError("callback_url has no host")
    if parts.username or parts.password:
        raise CallbackRefusedError("callback_url must not carry credentials")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:
        raise CallbackRefusedError("callback_url has an invalid port") from exc
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, parts.hostname, port, path)


def forbidden_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Loopback, private, link-local, multicast, reserved or unspecified."""
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return bool(
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in ipaddress.ip_network("100.64.0.0/10"))
    )


async def resolve_checked(host: str, port: int, allow_private: bool) -> list[str]:
    """Every address ``host`` resolves to, refusing the lot if any one is forbidden."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
    except OSError as exc:
        raise DeliveryError(f"cannot resolve {host}: {exc}") from exc
    addrs = sorted({str(info[4][0]) for info in infos})
    if not addrs:
        raise DeliveryError(f"{host} has no addresses")
    if not allow_private:
        for addr in addrs:
            if forbidden_address(ipaddress.ip_address(addr.split("%", 1)[0])):
                raise CallbackRefusedError(
                    f"callback host {host} resolves to a non-public address ({addr})"
                )
    return addrs


async def _post_once(
    target: Target, addr: str, body: bytes, headers: dict[str, str], timeout_s: float
) -> tuple[int, str | None]:
    ctx = ssl.create_default_context() if target.scheme == "https" else None
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(
            addr, target.port, ssl=ctx, server_hostname=target.host if ctx else None
        ),
        timeout_s,
    )
    try:
        host_header = target.host if ":" not in target.host else f"[{target.host}]"
        default_port = 443 if target.scheme == "https" else 80
        if target.port != default_port:
            host_header += f":{target.port}"
        lines = [
            f"POST {target.path} HTTP/1.1",
            f"Host: {host_header}",
            "Content-Type: application/json",
            f"Content-Length: {len(body)}",
            "Connection: close",
            "User-Agent: supersvg-scheduler",
            *(f"{k}: {v}" for k, v in headers.items()),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), timeout_s)
        parts = status_line.decode("latin-1").split()
        if len(parts) < 2 or not parts[1].isdigit():
            raise DeliveryError(f"malformed HTTP answer {status_line[:60]!r}")
        status = int(parts[1])
        location = None
        while True:
            line = await asyncio.wait_for(reader.readline(), timeout_s)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.strip().lower() == "location":
                location = value.strip()
        return status, location
    finally:
        writer.close()
        with contextlib.suppress(OSError, ssl.SSLError):
            await writer.wait_closed()


async def post_json(
    url: str, body: bytes, headers: dict[str, str], timeout_s: float, allow_private: bool
) -> int:
    """POST ``body`` to ``url``; returns the 2xx status or raises."""
    for _ in range(MAX_REDIRECTS + 1):
        target = check_url(url)
        addrs = await resolve_checked(target.host, target.port, allow_private)
        try:
            status, location = await _post_once(target, addrs[0], body, headers, timeout_s)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return status
        if status in (307, 308) and location:
            url = urljoin(url, location)
            continue
        raise DeliveryError(f"receiver answered HTTP {status}")
    raise DeliveryError("too many redirects")
