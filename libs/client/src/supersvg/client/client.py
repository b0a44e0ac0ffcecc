"""The synchronous client for the SuperSVG REST API (``/api/v1``) and what the asyncio
client (:mod:`supersvg.client.async_client`) shares with it."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self
from urllib.parse import quote

import httpx

from supersvg.client._core import (
    API_PREFIX,
    USER_AGENT,
    ImageInput,
    RetryPolicy,
    absolute_url,
    build_config,
    error_from_answer,
    new_idempotency_key,
    new_request_id,
    normalize_base_url,
    parse_page,
    prepare_image,
    same_origin,
    transport_error,
)
from supersvg.client.errors import WaitTimeout
from supersvg.client.models import Job, JobResult

__all__ = ["Client", "ProgressCallback"]

ProgressCallback = Callable[[Job], object]

_DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)


class _Base:
    """Request building shared by both clients; no I/O here."""

    def __init__(
        self,
        base_url: str,
        token: str | None,
        retry: RetryPolicy | None,
        headers: Mapping[str, str] | None,
    ) -> None:
        self.base_url = normalize_base_url(base_url)
        self.token = token
        self.retry = retry or RetryPolicy()
        self._extra_headers = dict(headers or {})

    def _url(self, path: str) -> str:
        if "://" in path:
            return path
        return f"{self.base_url}{API_PREFIX}{path}"

    def _job_path(self, job_id: str, suffix: str = "") -> str:
        if not job_id or not isinstance(job_id, str):
            raise ValueError("job_id must be a non-empty string")
        return f"/vectorize/jobs/{quote(job_id, safe='')}{suffix}"

    def _headers(
        self, url: str, request_id: str, extra: Mapping[str, str] | None
    ) -> dict[str, str]:
        headers = {"User-Agent": USER_AGENT, "X-Request-Id": request_id, **self._extra_headers}
        # The bearer token goes only to the API server, never to a storage host's signed URL.
        if self.token and same_origin(url, self.base_url):
            headers["Authorization"] = f"Bearer {self.token}"
        headers.update(extra or {})
        return headers

    @staticmethod
    def _submit_parts(
        image: ImageInput,
        config: Mapping[str, Any] | None,
        overrides: Mapping[str, Any],
        filename: str | None,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        name, data, content_type = prepare_image(image, filename)
        files = {"image": (name, data, content_type)}
        form: dict[str, str] = {}
        cfg = build_config(config, overrides)
        if cfg is not None:
            form["config"] = cfg
        return files, form

    @staticmethod
    def _list_params(status: str | None, page_size: int, token: str | None) -> dict[str, str | int]:
        params: dict[str, str | int] = {"page_size": page_size}
        if status:
            params["status"] = status
        if token:
            params["page_token"] = token
        return params


def _write_atomically(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


class Client(_Base):
    """Blocking client.

    >>> with Client("http://127.0.0.1:8080", token="...") as api:  # doctest: +SKIP
    ...     job = api.submit("photo.png", max_paths=128)
    ...     api.wait(job.job_id, timeout=300)
    ...     api.download_svg(job.job_id, "photo.svg")
    """

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = _DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
    ) -> None:
        super().__init__(base_url, token, retry, headers)
        self._http = httpx.Client(timeout=timeout, transport=transport, verify=verify)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport

    def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        """Send with retries on 429/503 and transport failures; raise the typed error."""
        url = self._url(path)
        request_id = new_request_id()
        attempt = 0
        while True:
            try:
                response = self._http.request(
                    method, url, headers=self._headers(url, request_id, headers), **kwargs
                )
            except httpx.TransportError as exc:
                attempt += 1
                delay = self.retry.after_transport_error(exc, attempt, idempotent=idempotent)
                if delay is None:
                    raise transport_error(exc, request_id) from exc
                time.sleep(delay)
                continue
            if response.is_success:
                return response
            attempt += 1
            delay = self.retry.after_answer(response, attempt)
            if delay is None:
                raise error_from_answer(response, request_id)
            time.sleep(delay)

    # ------------------------------------------------------------------ API

    def health(self) -> dict[str, Any]:
        """``GET /health``: ``{"status": "ok", "version": ...}``."""
        return dict(self._send("GET", "/health", idempotent=True).json())

    def submit(
        self,
        image: ImageInput,
        config: Mapping[str, Any] | None = None,
        *,
        max_paths: int | None = None,
        max_colors: int | None = None,
        gradients: str | None = None,
        num_iterations: int | None = None,
        output_format: str | None = None,
        priority: str | None = None,
        callback_url: str | None = None,
        preset: str | None = None,
        seed: int | None = None,
        filename: str | None = None,
        idempotency_key: str | None = None,
    ) -> Job:
        """Upload an image and queue a job. Keyword options override keys of ``config``.

        One ``Idempotency-Key`` is generated per call (unless given) and reused on every
        retry, so a retried submit never creates a second job.
        """
        files, form = self._submit_parts(
            image,
            config,
            {
                "max_paths": max_paths,
                "max_colors": max_colors,
                "gradients": gradients,
                "num_iterations": num_iterations,
                "output_format": output_format,
                "priority": priority,
                "callback_url": callback_url,
                "preset": preset,
                "seed": seed,
            },
            filename,
        )
        key = idempotency_key or new_idempotency_key()
        response = self._send(
            "POST",
            "/vectorize/jobs",
            idempotent=True,
            headers={"Idempotency-Key": key},
            files=files,
            data=form,
        )
        return Job.from_json(response.json())

    def get(self, job_id: str) -> Job:
        """The job's current status and progress."""
        return Job.from_json(self._send("GET", self._job_path(job_id), idempotent=True).json())

    def wait(
        self,
        job_id: str,
        timeout: float | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        poll_interval: float = 0.5,
    ) -> Job:
        """Poll until the job reaches a final status and return it (whatever that status is).

        ``on_progress(job)`` is called on the first poll and whenever status, progress or
        stage changes. Raises :class:`WaitTimeout` after ``timeout`` seconds (None: no limit).
        """
        if poll_interval <= 0:
            raise ValueError("poll_interval must be > 0")
        deadline = None if timeout is None else time.monotonic() + timeout
        last: tuple[str, float, str | None] | None = None
        while True:
            job = self.get(job_id)
            if on_progress is not None and (job.status, job.progress, job.stage) != last:
                on_progress(job)
            last = (job.status, job.progress, job.stage)
            if job.done:
                return job
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise WaitTimeout(f"job {job_id} still {job.status} after {timeout}s", job=job)
                time.sleep(min(poll_interval, remaining))
            else:
                time.sleep(poll_interval)

    def result(self, job_id: str) -> JobResult:
        """Links to the SVG and preview and the metrics of a completed job (409 before that)."""
        response = self._send("GET", self._job_path(job_id, "/result"), idempotent=True)
        return JobResult.from_json(response.json())

    def fetch(self, url: str) -> bytes:
        """Bytes behind a result link (absolute, or a path on the API server)."""
        return self._send("GET", absolute_url(url, self.base_url), idempotent=True).content

    def download_svg(self, job_id: str, path: str | os.PathLike[str]) -> Path:
        """Save the job's SVG to ``path`` (written whole or not at all) and return the path."""
        return _write_atomically(Path(path), self.fetch(self.result(job_id).svg_url))

    def download_preview(self, job_id: str, path: str | os.PathLike[str]) -> Path:
        """Save the job's preview PNG to ``path``."""
        res = self.result(job_id)
        if not res.preview_png_url:
            raise ValueError(f"job {job_id} has no preview")
        return _write_atomically(Path(path), self.fetch(res.preview_png_url))

    def cancel(self, job_id: str) -> Job:
        """Ask the server to cancel; answers the job as ``cancelling`` (or already final)."""
        # Repeating a cancel is harmless, so a lost answer may be retried.
        response = self._send("POST", self._job_path(job_id, "/cancel"), idempotent=True)
        return Job.from_json(response.json())

    def list_page(
        self, *, status: str | None = None, page_size: int = 50, page_token: str | None = None
    ) -> tuple[list[Job], str | None]:
        """One page of the caller's jobs, newest first, and the token of the next page."""
        params = self._list_params(status, page_size, page_token)
        response = self._send("GET", "/vectorize/jobs", idempotent=True, params=params)
        return parse_page(response.json())

    def list(
        self, *, status: str | None = None, page_size: int = 50, limit: int | None = None
    ) -> Iterator[Job]:
        """Iterate over the caller's jobs, fetching pages as needed (at most ``limit`` jobs)."""
        token: str | None = None
        count = 0
        while True:
            jobs, token = self.list_page(status=status, page_size=page_size, page_token=token)
            for job in jobs:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield job
            if not token or not jobs:
                return
