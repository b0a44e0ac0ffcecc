"""A 20 MB upload through the documented production values reaches the gateway.

No ingress controller runs here, so the path is checked in its two halves: the chart is
rendered with the values of docs/operations.md, and (1) the Ingress's ingress-nginx
body-size annotation must admit the whole multipart request, (2) a gateway started with the
limits from the same render (its Deployment's environment) accepts the request: 202, the
image stored byte for byte. An image one byte over the limit, still inside the proxy's
body size, gets the API's JSON 413 from the gateway rather than nginx's HTML page.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image

from tools.testing import helmkit
from tools.testing.service import FAST, assert_error
from tools.testing.stack import running_stack

MB = 1_000_000
MIB = 1024 * 1024
BODY_SIZE = "nginx.ingress.kubernetes.io/proxy-body-size"
GATEWAY_LIMITS = ("SUPERSVG_GATEWAY_MAX_UPLOAD_BYTES", "SUPERSVG_GATEWAY_BODY_TIMEOUT_SECONDS")


def _rendered(tmp_path: Path) -> tuple[dict[str, str], int]:
    """The gateway's environment and the Ingress body limit in bytes, from one render."""
    docs = helmkit.render(tmp_path / "kube", helmkit.documented_production_values(), "prod")
    by_key = {(d["kind"], d["metadata"]["name"]): d for d in docs}
    gateway = by_key[("Deployment", "supersvg-gateway")]["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in gateway["containers"][0]["env"] if "value" in e}
    size = by_key[("Ingress", "supersvg-gateway")]["metadata"]["annotations"][BODY_SIZE]
    assert size.endswith("m")
    return env, int(size[:-1]) * MIB


def _noise_png(min_bytes: int) -> bytes:
    """A real PNG of at least ``min_bytes`` (random pixels do not compress)."""
    side = int((min_bytes / 3) ** 0.5) + 16
    pixels = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _multipart(image: bytes) -> tuple[bytes, str]:
    """The request body exactly as the client sends it, to measure it against the proxy."""
    request = httpx.Request(
        "POST",
        "http://x/",
        files={"image": ("big.png", image, "image/png")},
        data={"config": json.dumps(FAST)},
    )
    return request.read(), request.headers["content-type"]


@pytest.fixture
def limits(tmp_path: Path) -> tuple[dict[str, str], int]:
    return _rendered(tmp_path)


def test_twenty_megabytes_through_the_documented_values(
    limits: tuple[dict[str, str], int], tmp_path: Path
) -> None:
    env, proxy_limit = limits
    max_upload = int(env["SUPERSVG_GATEWAY_MAX_UPLOAD_BYTES"])
    # The gateway's limits as the chart sets them (scheduler address etc. stay the stack's).
    gateway_env = {k: env[k] for k in GATEWAY_LIMITS}

    image = _noise_png(20 * MB)
    assert 20 * MB <= len(image) <= max_upload
    body, content_type = _multipart(image)
    assert len(body) <= proxy_limit, "ingress-nginx would answer 413 before the gateway"

    over = _noise_png(max_upload + 1)
    over = over[: max_upload + 1] if len(over) > max_upload + 1 else over
    over_body, over_type = _multipart(over)
    assert len(over) > max_upload and len(over_body) <= proxy_limit

    with (
        running_stack(tmp_path / "stack", env=gateway_env) as stack,
        httpx.Client(timeout=120) as client,
    ):
        url = f"{stack.base_url}/api/v1/vectorize/jobs"
        headers = {**stack.headers(), "content-type": content_type}
        r = client.post(url, content=body, headers=headers)
        assert r.status_code == 202, r.text
        job_id = r.json()["job_id"]
        # Stop the work at once: the point is the upload, not vectorizing noise.
        client.post(f"{url}/{job_id}/cancel", headers=stack.headers())
        assert _stored(stack.data_dir, job_id) == image

        r = client.post(
            url, content=over_body, headers={**stack.headers(), "content-type": over_type}
        )
        error: dict[str, Any] = assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        assert error["details"] == {"limit_bytes": max_upload}


def _stored(data_dir: Path, job_id: str) -> bytes:
    for root, _, files in os.walk(data_dir):
        if root.endswith(job_id) and "input" in files:
            return (Path(root) / "input").read_bytes()
    raise AssertionError(f"no stored input for {job_id} under {data_dir}")
