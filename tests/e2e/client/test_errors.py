"""Every status of the error model raises its typed error, from the real service."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from supersvg.client import (
    Client,
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RetryPolicy,
    ServerError,
    SuperSVGError,
    Unauthenticated,
    Unavailable,
    Unprocessable,
)
from tools.testing.faultproxy import Fault, fault_proxy
from tools.testing.images import shapes_png
from tools.testing.stackconfig import MAX_UPLOAD_BYTES

pytestmark = pytest.mark.timeout(300)

NO_RETRY = RetryPolicy(max_retries=0)
UNKNOWN_JOB = "job_01HZZZZZZZZZZZZZZZZZZZZZZZ"


def _check(err: SuperSVGError, status: int, code: str | None = None) -> None:
    """The common shape: status, code, message and the request id (also in str())."""
    assert err.status == status
    if code is not None:
        assert err.code == code
    assert err.message
    assert err.request_id and err.request_id in str(err)
    assert str(status) in str(err)


def test_400_invalid_request(stack: Any, tmp_path: Path) -> None:
    image = shapes_png(tmp_path / "a.png", 16, 16)
    api = Client(stack.base_url, stack.token, retry=NO_RETRY)
    with api, pytest.raises(InvalidRequest) as info:
        api.submit(image, idempotency_key="k" * 300)
    _check(info.value, 400, "INVALID_ARGUMENT")
    assert "Idempotency-Key" in info.value.message


def test_401_unauthenticated(stack: Any) -> None:
    api = Client(stack.base_url, "ssvg_not_a_real_token", retry=NO_RETRY)
    with api, pytest.raises(Unauthenticated) as info:
        api.get(UNKNOWN_JOB)
    _check(info.value, 401, "UNAUTHENTICATED")
    with Client(stack.base_url, None, retry=NO_RETRY) as api, pytest.raises(Unauthenticated):
        list(api.list())


def test_403_permission_denied_on_a_forged_result_link(stack: Any) -> None:
    forged = (
        f"{stack.base_url}/api/v1/artifacts/jobs/{UNKNOWN_JOB}/output.svg"
        f"?expires={int(time.time()) + 600}&signature={'0' * 64}"
    )
    api = Client(stack.base_url, stack.token, retry=NO_RETRY)
    with api, pytest.raises(PermissionDenied) as info:
        api.fetch(forged)
    _check(info.value, 403)


def test_404_not_found_and_other_tenants_jobs_are_invisible(stack: Any, tmp_path: Path) -> None:
    with Client(stack.base_url, stack.token, retry=NO_RETRY) as api:
        with pytest.raises(NotFound) as info:
            api.get(UNKNOWN_JOB)
        _check(info.value, 404)
        job = api.submit(shapes_png(tmp_path / "b.png", 16, 16), max_paths=4, num_iterations=0)
    with Client(stack.base_url, stack.tokens["tenant-b"], retry=NO_RETRY) as other:
        with pytest.raises(NotFound):
            other.get(job.job_id)
        with pytest.raises(NotFound):
            other.cancel(job.job_id)


def test_409_conflict_for_a_result_before_completion(stack: Any, tmp_path: Path) -> None:
    with Client(stack.base_url, stack.token, retry=NO_RETRY) as api:
        job = api.submit(shapes_png(tmp_path / "c.png", 96, 96), max_paths=32, num_iterations=5000)
        with pytest.raises(Conflict) as info:
            api.result(job.job_id)
        _check(info.value, 409)
        assert info.value.details.get("status") in ("queued", "running")
        api.cancel(job.job_id)
        api.wait(job.job_id, timeout=60, poll_interval=0.1)


def test_413_payload_too_large(stack: Any) -> None:
    big = b"\x89PNG\r\n\x1a\n" + b"\x00" * (MAX_UPLOAD_BYTES + 1000)
    api = Client(stack.base_url, stack.token, retry=NO_RETRY)
    with api, pytest.raises(PayloadTooLarge) as info:
        api.submit(big, filename="big.png")
    _check(info.value, 413, "PAYLOAD_TOO_LARGE")


def test_422_unprocessable_media_and_config(stack: Any, tmp_path: Path) -> None:
    with Client(stack.base_url, stack.token, retry=NO_RETRY) as api:
        with pytest.raises(Unprocessable) as media:
            api.submit(b"GIF89a not what we take", filename="x.gif")
        _check(media.value, 422)
        with pytest.raises(Unprocessable) as config:
            api.submit(shapes_png(tmp_path / "d.png", 16, 16), max_paths=-3)
        _check(config.value, 422, "INVALID_CONFIG")
        assert "max_paths" in config.value.message


def test_429_rate_limited_with_retry_after(stack: Any) -> None:
    token = stack.new_token("tenant-limited", rate_limit=2)
    with Client(stack.base_url, token, retry=NO_RETRY) as api:
        for _ in range(2):
            with pytest.raises(NotFound):
                api.get(UNKNOWN_JOB)
        with pytest.raises(RateLimited) as info:
            api.get(UNKNOWN_JOB)
    _check(info.value, 429, "RATE_LIMITED")
    assert info.value.retry_after is not None and info.value.retry_after >= 1
    assert info.value.details.get("limit_per_minute") == 2


def test_500_server_error(stack: Any) -> None:
    # The service does not fail on demand; a proxy in front of it answers 500 once.
    with fault_proxy(stack.base_url) as proxy:
        proxy.inject(Fault(500))
        with Client(proxy.url, stack.token) as api, pytest.raises(ServerError) as info:
            api.get(UNKNOWN_JOB)
        assert len(proxy.seen) == 1  # 500 is not retried
    _check(info.value, 500, "INTERNAL")


def test_503_unavailable_then_retry_succeeds_with_one_job(stack: Any, tmp_path: Path) -> None:
    """With the scheduler down the gateway answers 503 + Retry-After; a client with retries
    rides it out once the scheduler is back, and its submit creates exactly one job."""
    image = shapes_png(tmp_path / "e.png", 16, 16)
    with Client(stack.base_url, stack.token) as api:
        before = {j.job_id for j in api.list(page_size=100)}
    stack.stop_scheduler()
    try:
        api = Client(stack.base_url, stack.token, retry=NO_RETRY)
        with api, pytest.raises(Unavailable) as info:
            api.submit(image, max_paths=4, num_iterations=0)
        _check(info.value, 503)
        assert info.value.retry_after is not None and info.value.retry_after > 0

        outcome: dict[str, Any] = {}

        def submit_with_retries() -> None:
            try:
                with Client(stack.base_url, stack.token, retry=RetryPolicy(max_retries=8)) as c:
                    outcome["job"] = c.submit(image, max_paths=4, num_iterations=0)
            except Exception as exc:  # reported by the assertion below
                outcome["error"] = exc

        worker = threading.Thread(target=submit_with_retries)
        worker.start()
        time.sleep(1.0)  # the first attempt meets the outage
    finally:
        stack.start_scheduler()
    worker.join(timeout=120)
    assert not worker.is_alive()
    assert "error" not in outcome, outcome.get("error")
    with Client(stack.base_url, stack.token) as api:
        after = {j.job_id for j in api.list(page_size=100)}
    assert after - before == {outcome["job"].job_id}
