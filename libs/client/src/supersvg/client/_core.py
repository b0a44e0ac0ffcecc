"""Pure parts shared by the sync and async clients: URLs, retry policy, uploads, pages."""

from __future__ import annotations

import dataclasses
import email.utils
import json
import os
import random
import time
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any
from urllib.parse import urljoin, urlsplit

import httpx

from supersvg.client.errors import SuperSVGError, TransportFailed, error_from_response
from supersvg.client.models import Job

__all__ = [
    "API_PREFIX",
    "ImageInput",
    "RetryPolicy",
    "build_config",
    "new_idempotency_key",
    "new_request_id",
    "normalize_base_url",
    "parse_page",
    "parse_retry_after",
    "prepare_image",
    "same_origin",
]

API_PREFIX = "/api/v1"
RETRY_STATUSES = frozenset({429, 503})
IDEMPOTENCY_IN_PROGRESS = "IDEMPOTENCY_IN_PROGRESS"
USER_AGENT = "supersvg-client/0.1"

ImageInput = str | os.PathLike[str] | bytes | bytearray | IO[bytes]

# Transport failures where the request certainly never reached the server: always safe to retry.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


def normalize_base_url(base_url: str) -> str:
    """The server root (scheme://host[:port][/mount]) without a trailing ``/api/v1``."""
    if not base_url or "://" not in base_url:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"base_url must be an absolute http(s) URL, got {base_url!r}")
    path = parts.path.rstrip("/")
    if path.endswith(API_PREFIX):
        path = path[: -len(API_PREFIX)]
    return f"{parts.scheme}://{parts.netloc}{path}"


def same_origin(url: str, base_url: str) -> bool:
    """Whether ``url`` points at the API server itself (so the bearer token may go with it)."""
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.netloc.lower()) == (b.scheme, b.netloc.lower())


def absolute_url(url: str, base_url: str) -> str:
    """Resolve a result link the server may give as a path against the server root."""
    return urljoin(base_url + "/", url)


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex}"


def new_idempotency_key() -> str:
    return str(uuid.uuid4())


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date), or None."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """When and how long to back off.

    Retries answer 429/503 and transport failures. Exponential backoff with full jitter
    (spreads synchronised clients apart) unless the server says ``Retry-After``, which is
    honoured as given, up to ``max_retry_after`` (a longer hint fails fast instead).
    """

    max_retries: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 20.0
    max_retry_after: float = 120.0

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise ValueError("max_retries must be >= 0")
        if self.backoff_base < 0 or self.backoff_max < 0:
            raise ValueError("backoff times must be >= 0")

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds before retry number ``attempt`` (1-based), or None to stop retrying."""
        if attempt > self.max_retries:
            return None
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            return retry_after
        cap = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        return random.uniform(0, cap)  # jitter, not security

    @staticmethod
    def retryable_status(status: int) -> bool:
        return status in RETRY_STATUSES

    @classmethod
    def retryable_answer(cls, response: httpx.Response) -> bool:
        """429/503, or a 409 saying the same Idempotency-Key is still being processed (a
        retry that overtook its own first attempt: waiting then gets the first job)."""
        if cls.retryable_status(response.status_code):
            return True
        if response.status_code != 409:
            return False
        try:
            code = response.json()["error"]["code"]
        except (ValueError, KeyError, TypeError):
            return False
        return code == IDEMPOTENCY_IN_PROGRESS

    @staticmethod
    def retryable_transport(exc: httpx.TransportError, *, idempotent: bool) -> bool:
        """A failure before sending is always retryable; after sending only if idempotent."""
        if isinstance(exc, _NOT_SENT):
            return True
        return idempotent

    def after_transport_error(
        self, exc: httpx.TransportError, attempt: int, *, idempotent: bool
    ) -> float | None:
        """Seconds to wait before retry ``attempt`` after a failed send, or None to give up."""
        return self.delay(attempt) if self.retryable_transport(exc, idempotent=idempotent) else None

    def after_answer(self, response: httpx.Response, attempt: int) -> float | None:
        """Seconds to wait before retry ``attempt`` after an error answer, or None to raise."""
        if not self.retryable_answer(response):
            return None
        return self.delay(attempt, parse_retry_after(response.headers.get("retry-after")))


def transport_error(exc: httpx.TransportError, request_id: str) -> TransportFailed:
    return TransportFailed(f"{type(exc).__name__}: {exc or 'no details'}", request_id=request_id)


def raise_for_response(response: httpx.Response, request_id: str) -> None:
    """Raise the typed error for a non-2xx answer."""
    if response.is_success:
        return
    raise error_from_answer(response, request_id)


def error_from_answer(response: httpx.Response, request_id: str) -> SuperSVGError:
    return error_from_response(
        response.status_code,
        response.content,
        request_id=response.headers.get("x-request-id") or request_id,
        retry_after=parse_retry_after(response.headers.get("retry-after")),
    )


def sniff_content_type(head: bytes) -> str:
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    return "application/octet-stream"


def prepare_image(image: ImageInput, filename: str | None = None) -> tuple[str, bytes, str]:
    """Read an image given as a path, bytes or binary file into (filename, bytes, type).

    The bytes are read once so that a retried submit sends exactly the same body.
    """
    if isinstance(image, bytes | bytearray):
        data = bytes(image)
        name = filename or "image"
    elif isinstance(image, str | os.PathLike):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"image not found: {path}")
        data = path.read_bytes()
        name = filename or path.name
    elif hasattr(image, "read"):
        data = image.read()
        if not isinstance(data, bytes):
            raise TypeError("image file must be opened in binary mode")
        name = filename or Path(str(getattr(image, "name", "image"))).name
    else:
        raise TypeError(f"image must be a path, bytes or a binary file, not {type(image).__name__}")
    if not data:
        raise ValueError("image is empty")
    return name, data, sniff_content_type(data[:16])


def build_config(config: Mapping[str, Any] | None, overrides: Mapping[str, Any]) -> str | None:
    """The ``config`` form field: ``config`` merged with the non-None keyword overrides."""
    merged: dict[str, Any] = dict(config or {})
    merged.update({k: v for k, v in overrides.items() if v is not None})
    if not merged:
        return None
    return json.dumps(merged, separators=(",", ":"))


def parse_page(data: Any) -> tuple[list[Job], str | None]:
    """Jobs and the next-page token from a list answer (``{"jobs": [...], "next_page_token"}``)."""
    if not isinstance(data, Mapping) or not isinstance(data.get("jobs"), list):
        raise ValueError(f"not a job list: {data!r}")
    token = data.get("next_page_token")
    return [Job.from_json(item) for item in data["jobs"]], str(token) if token else None
