"""Helpers for tests against the running service: sample images, submit, polling and
the error model's shape."""

from __future__ import annotations

import io
import json
import time
from typing import Any

import httpx
from PIL import Image, ImageDraw

from tools.testing.stack import Stack

FAST = {"max_paths": 16, "num_iterations": 0}


def png_bytes(size: int = 96, seed: int = 0) -> bytes:
    img = Image.new("RGB", (size, size), (250, 250, 245))
    d = ImageDraw.Draw(img)
    d.ellipse((8 + seed, 10, size // 2 + 20, size // 2 + 24), fill=(220, 40, 40))
    d.rectangle((size // 3, size // 2, size - 6, size - 8), fill=(30, 70, 200))
    d.polygon([(4, size - 4), (size // 4, size // 2), (size // 2, size - 4)], fill=(20, 160, 60))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def submit(
    client: httpx.Client,
    stack: Stack,
    config: dict[str, Any] | None = None,
    *,
    image: bytes | None = None,
    tenant: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    files: dict[str, Any] = {"image": ("in.png", image if image is not None else png_bytes())}
    data = {"config": json.dumps(FAST if config is None else config)}
    return client.post(
        f"{stack.base_url}/api/v1/vectorize/jobs",
        files=files,
        data=data,
        headers={**stack.headers(tenant), **(headers or {})},
    )


def wait_status(
    client: httpx.Client,
    stack: Stack,
    job_id: str,
    states: tuple[str, ...],
    *,
    timeout: float = 60.0,
    tenant: str | None = None,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        r = client.get(
            f"{stack.base_url}/api/v1/vectorize/jobs/{job_id}", headers=stack.headers(tenant)
        )
        assert r.status_code == 200, r.text
        body = r.json()
        if body["status"] in states:
            return body
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not reach {states} in {timeout}s; last: {body}")


def assert_error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert r.headers.get("x-request-id"), "every response carries X-Request-Id"
    return body["error"]


__all__ = ["FAST", "assert_error", "png_bytes", "submit", "wait_status"]
