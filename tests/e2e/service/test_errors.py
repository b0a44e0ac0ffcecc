"""Every error status of the API with its error payload (section 8.3)."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tools.testing.service import FAST, assert_error, png_bytes, submit, wait_status
from tools.testing.stack import Stack, running_stack

JOBS = "/api/v1/vectorize/jobs"


def test_auth_errors(stack: Stack, client: httpx.Client) -> None:
    url = f"{stack.base_url}{JOBS}"
    r = client.get(url)
    assert_error(r, 401, "UNAUTHENTICATED")
    assert r.headers["www-authenticate"].startswith("Bearer")
    assert_error(client.get(url, headers={"Authorization": "Basic abc"}), 401, "UNAUTHENTICATED")
    assert_error(
        client.get(url, headers={"Authorization": "Bearer ssvg_not-a-real-token"}),
        401,
        "UNAUTHENTICATED",
    )


def test_revoked_token_stops_working(stack: Stack, client: httpx.Client) -> None:
    import subprocess
    import sys

    token = stack.new_token("tenant-revoke")
    url = f"{stack.base_url}{JOBS}"
    assert client.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    env = stack.embedded.env()
    listing = subprocess.run(
        [sys.executable, "-m", "supersvg.scheduler", "tokens", "list", "--tenant", "tenant-revoke"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    token_id = listing.split()[0]
    assert token not in listing, "the list never shows secrets"
    subprocess.run(
        [sys.executable, "-m", "supersvg.scheduler", "tokens", "revoke", token_id],
        env=env,
        check=True,
        capture_output=True,
    )
    time.sleep(1.5)  # the gateway caches positive answers (1 s in this stack)
    assert_error(
        client.get(url, headers={"Authorization": f"Bearer {token}"}), 401, "UNAUTHENTICATED"
    )


def test_not_found_and_routes(stack: Stack, client: httpx.Client) -> None:
    h = stack.headers()
    assert_error(
        client.get(f"{stack.base_url}{JOBS}/job_01ARZ3NDEKTSV4RRFFQ69G5FAV", headers=h),
        404,
        "JOB_NOT_FOUND",
    )
    assert_error(
        client.get(f"{stack.base_url}{JOBS}/not-a-job-id", headers=h), 404, "JOB_NOT_FOUND"
    )
    assert_error(client.get(f"{stack.base_url}/api/v1/nope"), 404, "NOT_FOUND")
    assert_error(client.delete(f"{stack.base_url}{JOBS}", headers=h), 405, "METHOD_NOT_ALLOWED")
    assert_error(
        client.get(f"{stack.base_url}{JOBS}?page_size=0", headers=h), 400, "INVALID_ARGUMENT"
    )


@pytest.mark.parametrize(
    ("config", "status", "code"),
    [
        ("{not json", 400, "INVALID_ARGUMENT"),
        ("[1, 2]", 400, "INVALID_ARGUMENT"),
        ('{"output_format": "png"}', 422, "INVALID_CONFIG"),
        ('{"max_paths": 0}', 422, "INVALID_CONFIG"),
        ('{"max_paths": 5000}', 422, "INVALID_CONFIG"),
        ('{"priority": "urgent"}', 422, "INVALID_CONFIG"),
        ('{"unknown_knob": 1}', 422, "INVALID_CONFIG"),
        ('{"callback_url": "ftp://example.com/x"}', 422, "INVALID_CALLBACK_URL"),
    ],
)
def test_bad_config(
    stack: Stack, client: httpx.Client, config: str, status: int, code: str
) -> None:
    r = client.post(
        f"{stack.base_url}{JOBS}",
        files={"image": ("a.png", png_bytes(32))},
        data={"config": config},
        headers=stack.headers(),
    )
    err = assert_error(r, status, code)
    if code == "INVALID_CONFIG":
        assert err["details"]["errors"], err


def test_bad_image_and_body(stack: Stack, client: httpx.Client) -> None:
    url = f"{stack.base_url}{JOBS}"
    h = stack.headers()
    # Named .png, declared image/png, but the content is text: checked by magic bytes.
    r = client.post(url, files={"image": ("a.png", b"hello, not an image", "image/png")}, headers=h)
    err = assert_error(r, 422, "UNSUPPORTED_MEDIA_TYPE")
    assert "image/png" in err["details"]["supported"]
    gif = b"GIF89a" + b"\x00" * 40
    assert_error(
        client.post(url, files={"image": ("a.gif", gif)}, headers=h), 422, "UNSUPPORTED_MEDIA_TYPE"
    )
    assert_error(
        client.post(url, files={"other": ("a.png", png_bytes(16))}, headers=h),
        400,
        "INVALID_ARGUMENT",
    )
    assert_error(client.post(url, json={"image": "x"}, headers=h), 400, "INVALID_ARGUMENT")
    assert_error(
        client.post(
            url,
            files={"image": ("a.png", png_bytes(16))},
            headers={**h, "Idempotency-Key": "bad key with spaces"},
        ),
        400,
        "INVALID_ARGUMENT",
    )


def test_result_and_cancel_state_errors(stack: Stack, client: httpx.Client) -> None:
    job_id = submit(client, stack, FAST).json()["job_id"]
    wait_status(client, stack, job_id, ("completed", "failed"))
    url = f"{stack.base_url}{JOBS}/{job_id}"
    assert_error(client.post(f"{url}/cancel", headers=stack.headers()), 409, "INVALID_STATE")
    queued = submit(client, stack, {"max_paths": 16, "num_iterations": 0}).json()["job_id"]
    r = client.get(f"{stack.base_url}{JOBS}/{queued}/result", headers=stack.headers())
    if r.status_code == 409:  # not finished yet: the result does not exist
        err = assert_error(r, 409, "JOB_NOT_COMPLETED")
        assert err["details"]["status"] in ("queued", "running")
    wait_status(client, stack, queued, ("completed", "failed"))


def test_rate_limit(stack: Stack, client: httpx.Client) -> None:
    token = stack.new_token("tenant-limited", rate_limit=3)
    h = {"Authorization": f"Bearer {token}"}
    codes = [client.get(f"{stack.base_url}{JOBS}", headers=h).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    r = client.get(f"{stack.base_url}{JOBS}", headers=h)
    err = assert_error(r, 429, "RATE_LIMITED")
    assert err["details"]["limit_per_minute"] == 3
    assert 1 <= int(r.headers["retry-after"]) <= 20
    # Other tenants are not affected.
    assert client.get(f"{stack.base_url}{JOBS}", headers=stack.headers()).status_code == 200


def test_active_job_quota(stack: Stack, client: httpx.Client) -> None:
    token = stack.new_token("tenant-quota", max_active_jobs=1)
    stack.tokens["tenant-quota"] = token
    first = submit(client, stack, {"max_paths": 16, "num_iterations": 0}, tenant="tenant-quota")
    assert first.status_code == 202
    r = submit(client, stack, FAST, tenant="tenant-quota")
    err = assert_error(r, 429, "QUOTA_EXCEEDED")
    assert "1 active" in err["message"]
    wait_status(
        client, stack, first.json()["job_id"], ("completed", "failed"), tenant="tenant-quota"
    )
    assert submit(client, stack, FAST, tenant="tenant-quota").status_code == 202


def test_scheduler_unreachable_gives_503(stack: Stack, client: httpx.Client) -> None:
    stack.stop_scheduler()
    try:
        r = client.get(f"{stack.base_url}{JOBS}", headers={"Authorization": "Bearer ssvg_new"})
        assert_error(r, 503, "SCHEDULER_UNAVAILABLE")
        assert r.headers["retry-after"]
        # A cached token still authenticates, then the status call itself fails with 503.
        assert_error(
            client.get(f"{stack.base_url}{JOBS}", headers=stack.headers()),
            503,
            "SCHEDULER_UNAVAILABLE",
        )
        ready = client.get(f"{stack.base_url}/readyz")
        assert ready.status_code == 503
        assert client.get(f"{stack.base_url}/healthz").status_code == 200
    finally:
        stack.start_scheduler()
    deadline = time.monotonic() + 10
    while client.get(f"{stack.base_url}/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the gateway reconnects to the restarted scheduler"
        time.sleep(0.2)
    assert client.get(f"{stack.base_url}{JOBS}", headers=stack.headers()).status_code == 200


def test_upload_limit_and_full_queue(data_dir, client: httpx.Client) -> None:
    env = {
        "SUPERSVG_GATEWAY_MAX_UPLOAD_BYTES": str(100_000),
        "SUPERSVG_SCHEDULER_MAX_QUEUE_SIZE": "1",
        "SUPERSVG_SCHEDULER_MAX_CONCURRENCY": "1",
    }
    with running_stack(data_dir, env=env) as s:
        url = f"{s.base_url}{JOBS}"
        # Just over the image limit but within the form allowance: refused after parsing.
        big = png_bytes(16) + b"\0" * 100_001
        assert_error(
            client.post(url, files={"image": ("a.png", big)}, headers=s.headers()),
            413,
            "PAYLOAD_TOO_LARGE",
        )
        # Far over: refused while streaming (the server stops reading and answers 413).
        huge = png_bytes(16) + b"\0" * 3_000_000

        def chunks():
            boundary = b"--xyz"
            yield boundary + b'\r\nContent-Disposition: form-data; name="image"; filename="a.png"'
            yield b"\r\nContent-Type: image/png\r\n\r\n"
            for i in range(0, len(huge), 65536):
                yield huge[i : i + 65536]
            yield b"\r\n" + boundary + b"--\r\n"

        try:
            r = client.post(
                url,
                content=chunks(),
                headers={**s.headers(), "Content-Type": "multipart/form-data; boundary=xyz"},
            )
            assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        except httpx.TransportError:
            pass  # the server may close the connection before we finish sending: also a refusal
        r = client.post(url, files={"image": ("a.png", huge)}, headers=s.headers())
        assert_error(r, 413, "PAYLOAD_TOO_LARGE")
        # Queue of one: a running job plus one queued fills it -> 503 with Retry-After.
        a = submit(client, s, {"max_paths": 32, "num_iterations": 300})
        assert a.status_code == 202
        wait_status(client, s, a.json()["job_id"], ("running", "completed", "failed"))
        b = submit(client, s, FAST)
        assert b.status_code == 202
        c = submit(client, s, FAST)
        assert_error(c, 503, "CAPACITY_EXHAUSTED")
        assert c.headers["retry-after"]
        for job in (a, b):
            client.post(f"{url}/{job.json()['job_id']}/cancel", headers=s.headers())
        assert json.loads(c.text)["error"]["details"] == {}
