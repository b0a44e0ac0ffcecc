"""The asyncio client: the same calls as :class:`~supersvg.client.client.Client`, awaited."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Self

import httpx

from supersvg.client._core import (
    ImageInput,
    RetryPolicy,
    absolute_url,
    error_from_answer,
    new_idempotency_key,
    new_request_id,
    parse_page,
    transport_error,
)
from supersvg.client.client import _DEFAULT_TIMEOUT, ProgressCallback, _Base, _write_atomically
from supersvg.client.errors import WaitTimeout
from supersvg.client.models import Job, JobResult

__all__ = ["AsyncClient"]


class AsyncClient(_Base):
    """The same surface as :class:`Client`, with coroutines and an async ``list``."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float | httpx.Timeout = _DEFAULT_TIMEOUT,
        retry: RetryPolicy | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        verify: bool | str = True,
        limits: httpx.Limits | None = None,
    ) -> None:
        super().__init__(base_url, token, retry, headers)
        self._http = httpx.AsyncClient(
            timeout=timeout,
            transport=transport,
            verify=verify,
            limits=limits or httpx.Limits(max_connections=100, max_keepalive_connections=100),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        url = self._url(path)
        request_id = new_request_id()
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method, url, headers=self._headers(url, request_id, headers), **kwargs
                )
            except httpx.TransportError as exc:
                attempt += 1
                delay = self.retry.after_transport_error(exc, attempt, idempotent=idempotent)
                if delay is None:
                    raise transport_error(exc, request_id) from exc
                await asyncio.sleep(delay)
                continue
            if response.is_success:
                return response
            attempt += 1
            delay = self.retry.after_answer(response, attempt)
            if delay is None:
                raise error_from_answer(response, request_id)
            await asyncio.sleep(delay)

    async def health(self) -> dict[str, Any]:
        return dict((await self._send("GET", "/health", idempotent=True)).json())

    async def submit(
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
        """See :meth:`Client.submit`."""
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
        response = await self._send(
            "POST",
            "/vectorize/jobs",
            idempotent=True,
            headers={"Idempotency-Key": key},
            files=files,
            data=form,
        )
        return Job.from_json(response.json())

    async def get(self, job_id: str) -> Job:
        response = await self._send("GET", self._job_path(job_id), idempotent=True)
        return Job.from_json(response.json())

    async def wait(
        self,
        job_id: str,
        timeout: float | None = None,  # noqa: ASYNC109 - the same surface as Client.wait
        *,
        on_progress: ProgressCallback | None = None,
        poll_interval: float = 0.5,
    ) -> Job:
        """See :meth:`Client.wait`; ``on_progress`` may also be a coroutine function."""
        if poll_interval <= 0:
            raise ValueError("poll_interval must be > 0")
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        last: tuple[str, float, str | None] | None = None
        while True:
            job = await self.get(job_id)
            if on_progress is not None and (job.status, job.progress, job.stage) != last:
                outcome = on_progress(job)
                if asyncio.iscoroutine(outcome):
                    await outcome
            last = (job.status, job.progress, job.stage)
            if job.done:
                return job
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise WaitTimeout(f"job {job_id} still {job.status} after {timeout}s", job=job)
                await asyncio.sleep(min(poll_interval, remaining))
            else:
                await asyncio.sleep(poll_interval)

    async def result(self, job_id: str) -> JobResult:
        response = await self._send("GET", self._job_path(job_id, "/result"), idempotent=True)
        return JobResult.from_json(response.json())

    async def fetch(self, url: str) -> bytes:
        response = await self._send("GET", absolute_url(url, self.base_url), idempotent=True)
        return response.content

    async def download_svg(self, job_id: str, path: str | os.PathLike[str]) -> Path:
        res = await self.result(job_id)
        return _write_atomically(Path(path), await self.fetch(res.svg_url))

    async def download_preview(self, job_id: str, path: str | os.PathLike[str]) -> Path:
        res = await self.result(job_id)
        if not res.preview_png_url:
            raise ValueError(f"job {job_id} has no preview")
        return _write_atomically(Path(path), await self.fetch(res.preview_png_url))

    async def cancel(self, job_id: str) -> Job:
        response = await self._send("POST", self._job_path(job_id, "/cancel"), idempotent=True)
        return Job.from_json(response.json())

    async def list_page(
        self, *, status: str | None = None, page_size: int = 50, page_token: str | None = None
    ) -> tuple[list[Job], str | None]:
        params = self._list_params(status, page_size, page_token)
        response = await self._send("GET", "/vectorize/jobs", idempotent=True, params=params)
        return parse_page(response.json())

    async def list(
        self, *, status: str | None = None, page_size: int = 50, limit: int | None = None
    ) -> AsyncIterator[Job]:
        token: str | None = None
        count = 0
        while True:
            jobs, token = await self.list_page(status=status, page_size=page_size, page_token=token)
            for job in jobs:
                if limit is not None and count >= limit:
                    return
                count += 1
                yield job
            if not token or not jobs:
                return
