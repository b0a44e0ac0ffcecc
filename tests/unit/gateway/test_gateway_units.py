"""Gateway pieces without a scheduler: link signing, rate limiting, media sniffing, and the
error model for routes that never reach the scheduler."""

from __future__ import annotations

import io
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from supersvg.common.storage import LocalArtifactStore
from supersvg.gateway import GatewaySettings, create_app
from supersvg.gateway.media import sniff_image_type
from supersvg.gateway.ratelimit import RateLimiter
from supersvg.gateway.signing import sign_artifact, signed_path, verify_artifact


def _image(fmt: str) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(buf, fmt)
    return buf.getvalue()


@pytest.mark.parametrize(
    ("fmt", "media"), [("PNG", "image/png"), ("JPEG", "image/jpeg"), ("WEBP", "image/webp")]
)
def test_sniff_real_images(fmt: str, media: str) -> None:
    assert sniff_image_type(_image(fmt)[:32]) == media


@pytest.mark.parametrize("head", [b"", b"GIF89a....", b"<svg xmlns=", b"RIFF\0\0\0\0WAVE", b"BM"])
def test_sniff_refuses_other_content(head: bytes) -> None:
    assert sniff_image_type(head) is None


def test_signing_round_trip_and_failures() -> None:
    key = b"k" * 32
    path, expires = signed_path(key, "jobs/job_1/output.svg", 60, now=1000.0)
    assert expires == 1060 and path.startswith("/api/v1/artifacts/jobs/job_1/output.svg?")
    sig = sign_artifact(key, "jobs/job_1/output.svg", expires)
    assert verify_artifact(key, "jobs/job_1/output.svg", expires, sig, now=1001) is None
    assert verify_artifact(key, "jobs/job_1/output.svg", expires, sig, now=2000) == "expired"
    assert verify_artifact(key, "jobs/job_2/output.svg", expires, sig, now=1001) == "bad signature"
    assert verify_artifact(key, "jobs/job_1/output.svg", expires + 1, sig, now=1001) == (
        "bad signature"
    )
    assert verify_artifact(b"other", "jobs/job_1/output.svg", expires, sig, now=1001) == (
        "bad signature"
    )


def test_rate_limiter_bucket() -> None:
    now = [0.0]
    rl = RateLimiter(clock=lambda: now[0])
    assert [rl.check("a", 3) for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = rl.check("a", 3)
    assert 19.0 < wait <= 20.0  # one token per 20 s at 3/min
    assert rl.check("b", 3) == 0.0, "tenants have their own buckets"
    now[0] = 20.0
    assert rl.check("a", 3) == 0.0
    assert rl.check("a", 0) == 0.0, "0 disables the limit"
    assert RateLimiter.retry_after(0.2) == "1"


@pytest.fixture
def client(tmp_path: Path) -> httpx.AsyncClient:
    settings = GatewaySettings(
        scheduler_addr="127.0.0.1:1", max_upload_bytes=1000, signing_key="s" * 32
    )
    app = create_app(settings, store=LocalArtifactStore(tmp_path))
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw")


async def test_error_model_without_scheduler(client: httpx.AsyncClient) -> None:
    async with client:
        r = await client.get("/api/v1/health")
        assert r.json() == {"status": "ok", "version": "1.0.0"}
        assert len(r.headers["x-request-id"]) == 32 and len(r.headers["x-trace-id"]) == 32
        for resp, status, code in [
            (await client.get("/nowhere"), 404, "NOT_FOUND"),
            (await client.put("/api/v1/health"), 405, "METHOD_NOT_ALLOWED"),
            (await client.get("/api/v1/vectorize/jobs"), 401, "UNAUTHENTICATED"),
            (await client.get("/api/v1/artifacts/jobs/x/output.svg"), 400, "INVALID_ARGUMENT"),
            (
                await client.get(
                    "/api/v1/artifacts/jobs/x/output.svg", params={"expires": 1, "signature": "x"}
                ),
                403,
                "INVALID_SIGNATURE",
            ),
        ]:
            assert resp.status_code == status, resp.text
            body = resp.json()
            assert body["error"]["code"] == code
            assert set(body["error"]) == {"code", "message", "details"}


async def test_signed_artifact_served_from_local_store(tmp_path: Path) -> None:
    store = LocalArtifactStore(tmp_path)
    store.put("jobs/job_1/output.svg", b"<svg/>")
    store.put("jobs/job_1/input", b"secret input")
    key = "s" * 32
    app = create_app(GatewaySettings(signing_key=key), store=store)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://g") as c:
        path, _ = signed_path(key.encode(), "jobs/job_1/output.svg", 60)
        r = await c.get(path)
        assert r.status_code == 200 and r.content == b"<svg/>"
        assert r.headers["content-type"].startswith("image/svg+xml")
        # Even a correctly signed link never serves the raw input.
        path, _ = signed_path(key.encode(), "jobs/job_1/input", 60)
        assert (await c.get(path)).status_code == 404
        expired = int(time.time()) - 1
        sig = sign_artifact(key.encode(), "jobs/job_1/output.svg", expired)
        r = await c.get(
            f"/api/v1/artifacts/jobs/job_1/output.svg?expires={expired}&signature={sig}"
        )
        assert r.status_code == 403 and "expired" in r.json()["error"]["message"]


async def test_oversized_declared_body_refused_before_reading(client: httpx.AsyncClient) -> None:
    async with client:
        r = await client.post(
            "/api/v1/vectorize/jobs",
            content=b"x" * 400_000,
            headers={
                "Content-Type": "multipart/form-data; boundary=x",
                "Authorization": "Bearer t",
            },
        )
        assert r.status_code == 413
        assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"
        assert r.headers["x-request-id"]


async def test_unhandled_error_is_a_500_with_payload_and_request_id(tmp_path: Path) -> None:
    app = create_app(GatewaySettings(signing_key="k" * 32), store=LocalArtifactStore(tmp_path))

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("kaput")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://g") as c:
        r = await c.get("/boom", headers={"X-Request-Id": "req-42"})
    assert r.status_code == 500
    assert r.json() == {"error": {"code": "INTERNAL", "message": "internal error", "details": {}}}
    assert r.headers["x-request-id"] == "req-42"
    assert "kaput" not in r.text, "internal details are not leaked"
