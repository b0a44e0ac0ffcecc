"""Hostile input: schema-driven fuzzing of the served OpenAPI document (schemathesis), then
malformed and adversarial images, oversized and slow uploads."""

from __future__ import annotations

import contextlib
import io
import json
import os
import socket
import struct
import sys
import time
import zlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from PIL import Image

from tools.testing.reliability import FAST, png_bytes, record
from tools.testing.stack import Stack, start_stack

SLOW = "--run-slow" in sys.argv or os.environ.get("SUPERSVG_RUN_SLOW") == "1"
EXAMPLES = 150 if SLOW else 25
SEEN = {"requests": 0, "server_errors": 0}


@pytest.fixture(scope="module")
def fuzz_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    # Workers that refuse every input at once: the fuzzer tests the API, not the vectorizer.
    s = start_stack(
        tmp_path_factory.mktemp("fuzz") / ".data",
        env={
            "SUPERSVG_SCHEDULER_WORKER_COMMAND": f'{sys.executable} -c "raise SystemExit(2)"',
            "SUPERSVG_GATEWAY_RATE_LIMIT_PER_MINUTE": "0",
            "SUPERSVG_SCHEDULER_DEFAULT_MAX_ACTIVE_JOBS": "100000",
            "SUPERSVG_SCHEDULER_MAX_CONCURRENCY": "1",
        },
    )
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def api_schema(fuzz_stack: Stack) -> Any:
    return schemathesis.openapi.from_url(f"{fuzz_stack.base_url}/api/v1/openapi.json")


def _operations() -> list[tuple[str, str]]:
    return [(m, p) for p in PATHS for m in PATHS[p]]


PATHS = {
    "/api/v1/health": ["GET"],
    "/api/v1/vectorize/jobs": ["GET", "POST"],
    "/api/v1/vectorize/jobs/{job_id}": ["GET"],
    "/api/v1/vectorize/jobs/{job_id}/result": ["GET"],
    "/api/v1/vectorize/jobs/{job_id}/cancel": ["POST"],
    "/api/v1/artifacts/{key}": ["GET"],
}


@pytest.mark.parametrize("mode", list(schemathesis.GenerationMode), ids=str)
@pytest.mark.parametrize(("method", "path"), _operations())
def test_openapi_fuzz(
    api_schema: Any, fuzz_stack: Stack, method: str, path: str, mode: Any
) -> None:
    """No 5xx, and every answer matches the document (status, content type, schema)."""
    label = f"{method} {path}"
    ops = {r.ok().label: r.ok() for r in api_schema.get_all_operations()}
    assert set(ops) >= {f"{m} {p}" for m, p in _operations()}, sorted(ops)
    headers = fuzz_stack.headers()

    @given(case=ops[label].as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: Any) -> None:
        merged = {**headers, **(case.headers or {})}
        response = case.call(base_url=fuzz_stack.base_url, headers=merged, timeout=30)
        SEEN["requests"] += 1
        if response.status_code >= 500:
            SEEN["server_errors"] += 1
        # Positive-data acceptance is left out: the document cannot say that an image must
        # be PNG/JPEG/WebP by content or that a page token must be one we issued.
        case.validate_response(
            response,
            headers=merged,
            excluded_checks=[schemathesis.checks.positive_data_acceptance],
        )

    try:
        run()
    except Unsatisfiable:
        # Nothing of this operation can be made schema-invalid (e.g. a free string path).
        assert mode == schemathesis.GenerationMode.NEGATIVE


def test_fuzz_summary(fuzz_stack: Stack) -> None:
    """Runs after the fuzzing: it reached the service, and nothing crashed."""
    assert SEEN["requests"] >= 4 * EXAMPLES, SEEN
    assert SEEN["server_errors"] == 0, SEEN
    assert fuzz_stack.embedded.gateway is not None and fuzz_stack.embedded.gateway.poll() is None
    record("fuzz", requests=SEEN["requests"], server_errors=SEEN["server_errors"])


# --------------------------------------------------------------------------- images


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(
        tmp_path_factory.mktemp("img") / ".data",
        env={
            "SUPERSVG_SCHEDULER_MAX_CONCURRENCY": "2",
            "SUPERSVG_GATEWAY_MAX_UPLOAD_BYTES": str(2 * 1024 * 1024),
            "SUPERSVG_GATEWAY_BODY_IDLE_TIMEOUT_SECONDS": "2",
            "SUPERSVG_GATEWAY_BODY_TIMEOUT_SECONDS": "6",
            "SUPERSVG_GATEWAY_HEADER_TIMEOUT_SECONDS": "3",
        },
    )
    try:
        yield s
    finally:
        s.stop()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png(width: int, height: int, idat: bytes, bit_depth: int = 8, color: int = 0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", ihdr) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")
    )


def _bomb() -> bytes:
    """20000 x 20000 1-bit PNG: 50 kB on the wire, 400 megapixels decoded."""
    row = b"\x00" + b"\x00" * (20000 // 8)
    return _png(20000, 20000, zlib.compress(row * 20000, 9), bit_depth=1)


def _jpeg_huge() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 20, 30)).save(buf, "JPEG")
    data = bytearray(buf.getvalue())
    sof = data.find(b"\xff\xc0")
    struct.pack_into(">HH", data, sof + 5, 65000, 65000)  # height, width in SOF0
    return bytes(data)


GOOD = png_bytes(48)
WORKER_REFUSED = {
    "truncated png": GOOD[: len(GOOD) // 2],
    "png header only": GOOD[:40],
    "decompression bomb": _bomb(),
    "huge dimensions png": _png(1_000_000, 1_000_000, zlib.compress(b"\x00" * 64)),
    "zero-size png": _png(0, 0, zlib.compress(b"")),
    "huge dimensions jpeg": _jpeg_huge(),
    "corrupt idat": _png(64, 64, b"not zlib at all" * 10),
    "truncated webp": b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00" + b"\x00" * 8,
}
GATEWAY_REFUSED = {
    "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
    "html": b"<!doctype html><html><script>alert(1)</script></html>",
    "gif": b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
    "bmp": b"BM" + b"\x00" * 60,
    "pdf": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n",
    "zip": b"PK\x03\x04" + b"\x00" * 40,
    "empty": b"",
    "text": b"hello",
    "elf": b"\x7fELF" + b"\x00" * 60,
}


def _submit(c: httpx.Client, stack: Stack, data: bytes, name: str, ctype: str) -> httpx.Response:
    return c.post(
        "/api/v1/vectorize/jobs",
        files={"image": (name, data, ctype)},
        data={"config": json.dumps(FAST)},
        headers=stack.headers(),
    )


@pytest.mark.parametrize("name", sorted(GATEWAY_REFUSED))
def test_non_images_are_refused_by_content(stack: Stack, name: str) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        # The declared type and name claim an image: only the bytes count.
        r = _submit(c, stack, GATEWAY_REFUSED[name], "x.png", "image/png")
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE"


def test_adversarial_images_fail_cleanly(stack: Stack) -> None:
    """Accepted by magic bytes, then refused by the worker as INVALID_IMAGE: never retried
    as a crash, never a worker hang; a PNG polyglot renders as the image alone."""
    polyglot = GOOD + b"<html><script>alert(document.cookie)</script></html>PK\x05\x06" + b"\0" * 18
    ids: dict[str, str] = {}
    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        for name, data in {**WORKER_REFUSED, "polyglot": polyglot}.items():
            r = _submit(c, stack, data, "in.svg", "image/svg+xml")  # content type is ignored
            if r.status_code == 422:  # refused at the gateway already: fine too
                assert r.json()["error"]["code"] == "UNSUPPORTED_MEDIA_TYPE", (name, r.text)
                continue
            assert r.status_code == 202, (name, r.text)
            ids[name] = r.json()["job_id"]
        deadline = time.monotonic() + 180
        final: dict[str, dict[str, Any]] = {}
        while len(final) < len(ids) and time.monotonic() < deadline:
            for name, job_id in ids.items():
                body = c.get(f"/api/v1/vectorize/jobs/{job_id}", headers=stack.headers()).json()
                if body["status"] in ("completed", "failed"):
                    final[name] = body
            time.sleep(0.5)
        assert set(final) == set(ids), f"not finished: {set(ids) - set(final)}"
        for name, body in final.items():
            if name == "polyglot":
                assert body["status"] == "completed", body
                res = c.get(
                    f"/api/v1/vectorize/jobs/{body['job_id']}/result", headers=stack.headers()
                )
                svg = c.get(res.json()["result"]["svg_url"]).text
                assert "<script" not in svg and "alert" not in svg
                continue
            assert body["status"] == "failed", (name, body)
            assert body["error"]["code"] == "INVALID_IMAGE", (name, body)
            assert body["attempts"] == 1, (name, body)
    record(
        "hostile_images",
        submitted=len(ids) + len(GATEWAY_REFUSED),
        refused_at_gateway=len(GATEWAY_REFUSED) + len(WORKER_REFUSED) + 1 - len(ids),
        refused_by_worker=len(ids) - 1,
        worker_crashes=0,
    )


def test_oversized_uploads(stack: Stack) -> None:
    big = b"\x89PNG\r\n\x1a\n" + os.urandom(3 * 1024 * 1024)
    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        r = _submit(c, stack, big, "big.png", "image/png")
        assert r.status_code == 413, r.text
        assert r.json()["error"]["code"] == "PAYLOAD_TOO_LARGE"

        def chunks() -> Iterator[bytes]:  # no Content-Length: caught while streaming
            yield b"--b\r\nContent-Disposition: form-data; name=image; filename=a.png\r\n\r\n"
            for _ in range(64):
                yield b"\x89PNG" + b"\0" * 65532

        r = c.post(
            "/api/v1/vectorize/jobs",
            content=chunks(),
            headers={**stack.headers(), "Content-Type": "multipart/form-data; boundary=b"},
        )
        assert r.status_code == 413, r.text
        assert c.get("/api/v1/health").status_code == 200


def _slow_client(
    port: int, head: bytes, trickle: bytes, every: float, limit: float
) -> tuple[float, bytes]:
    """Send ``head`` then one byte of ``trickle`` per ``every`` seconds; the seconds until
    the server answers or closes (or ``limit`` if it never does), and its answer."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=limit) as sock:
        sock.sendall(head)
        sock.settimeout(every)
        for byte in trickle:
            try:
                answer = sock.recv(4096)  # an answer or a close: the server let go
                took = time.monotonic() - started
                sock.settimeout(5.0)
                with contextlib.suppress(OSError):
                    while chunk := sock.recv(4096):  # the rest of the answer, until close
                        answer += chunk
                return took, answer
            except TimeoutError:
                pass
            except OSError:
                return time.monotonic() - started, b""
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return time.monotonic() - started, b""
            if time.monotonic() - started > limit:
                return limit, b""
    return limit, b""


@pytest.mark.parametrize("phase", ["headers", "body"])
def test_slow_uploads_are_cut_off(stack: Stack, phase: str) -> None:
    port = int(stack.base_url.rsplit(":", 1)[1])
    if phase == "headers":
        head = b"POST /api/v1/vectorize/jobs HTTP/1.1\r\nHost: x\r\n"
        trickle = b"X-Slow: " + b"a" * 200
    else:
        head = (
            b"POST /api/v1/vectorize/jobs HTTP/1.1\r\nHost: x\r\n"
            + f"Authorization: Bearer {stack.token}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
            + b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
            + GOOD[:16]
        )
        trickle = GOOD[16:216]
    took, answer = _slow_client(port, head, trickle, every=1.0, limit=30.0)
    assert took < 15.0, f"the gateway held a slow {phase} connection for {took:.1f}s"
    if phase == "body":  # headers were complete: the client gets the error model
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert b'"REQUEST_TIMEOUT"' in answer
    with httpx.Client(base_url=stack.base_url, timeout=10) as c:
        assert c.get("/api/v1/health").status_code == 200
    record("slow_upload", phase=phase, cut_after_s=round(took, 1))
