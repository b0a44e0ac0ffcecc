"""Retries through a real fault-injecting HTTP proxy in front of the real gateway."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from supersvg.client import (
    Client,
    RateLimited,
    RetryPolicy,
    ServerError,
    TransportFailed,
    Unavailable,
    Unprocessable,
)
from tools.testing.faultproxy import Fault, FaultProxy, fault_proxy
from tools.testing.images import shapes_png

pytestmark = pytest.mark.timeout(300)

SUBMIT = "/api/v1/vectorize/jobs"
QUICK = RetryPolicy(max_retries=5, backoff_base=0.05, backoff_max=0.2)
NO_RETRY = RetryPolicy(max_retries=0)


@pytest.fixture
def proxy(stack: Any) -> Iterator[FaultProxy]:
    with fault_proxy(stack.base_url) as p:
        yield p


def _jobs_now(stack: Any) -> set[str]:
    with Client(stack.base_url, stack.token) as api:
        return {job.job_id for job in api.list(page_size=100)}


def _submits(proxy: FaultProxy) -> list[Any]:
    return [s for s in proxy.seen if s.method == "POST" and s.path == SUBMIT]


def test_submit_retried_on_429_and_503_creates_exactly_one_job(
    stack: Any, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = shapes_png(tmp_path / "r.png", 32, 32)
    before = _jobs_now(stack)
    proxy.inject(
        Fault(429, retry_after="1", method="POST", path_prefix=SUBMIT),
        Fault(503, method="POST", path_prefix=SUBMIT),
        Fault(503, retry_after="0", method="POST", path_prefix=SUBMIT),
    )
    with Client(proxy.url, stack.token, retry=QUICK) as api:
        start = time.monotonic()
        job = api.submit(image, max_paths=4, num_iterations=0)
        elapsed = time.monotonic() - start
    assert elapsed >= 1.0  # Retry-After: 1 was honoured
    outcomes = [s.outcome for s in _submits(proxy)]
    assert outcomes == ["injected:429", "injected:503", "injected:503", "forwarded:202"]
    keys = {s.headers["idempotency-key"] for s in _submits(proxy)}
    assert len(keys) == 1  # one key, reused on every retry
    assert len({s.headers["x-request-id"] for s in _submits(proxy)}) == 1
    assert _jobs_now(stack) - before == {job.job_id}


def test_lost_answer_retried_with_same_key_returns_the_same_job(
    stack: Any, proxy: FaultProxy, tmp_path: Path
) -> None:
    """The gateway accepted the submit but its answer never arrived: the retry must not
    create a second job."""
    image = shapes_png(tmp_path / "l.png", 32, 32)
    before = _jobs_now(stack)
    proxy.inject(
        Fault("lose-answer", method="POST", path_prefix=SUBMIT),
        Fault("drop", method="POST", path_prefix=SUBMIT),
    )
    with Client(proxy.url, stack.token, retry=QUICK) as api:
        job = api.submit(image, max_paths=4, num_iterations=0)
    outcomes = [s.outcome for s in _submits(proxy)]
    assert outcomes[0] == "lost:202" and outcomes[1] == "dropped"
    assert outcomes[2] in ("forwarded:202", "forwarded:200")
    assert len({s.headers["idempotency-key"] for s in _submits(proxy)}) == 1
    assert _jobs_now(stack) - before == {job.job_id}


def test_status_calls_retry_on_connection_errors(
    stack: Any, proxy: FaultProxy, tmp_path: Path
) -> None:
    image = shapes_png(tmp_path / "g.png", 32, 32)
    with Client(stack.base_url, stack.token) as direct:
        job = direct.submit(image, max_paths=4, num_iterations=0)
    proxy.inject(Fault("drop", method="GET"), Fault(503, retry_after="0", method="GET"))
    with Client(proxy.url, stack.token, retry=QUICK) as api:
        assert api.get(job.job_id).job_id == job.job_id
    assert [s.outcome for s in proxy.seen] == ["dropped", "injected:503", "forwarded:200"]


def test_gives_up_with_the_typed_error(stack: Any, proxy: FaultProxy) -> None:
    proxy.inject(*[Fault(429, retry_after="0")] * 3)
    policy = RetryPolicy(max_retries=2, backoff_base=0.01)
    with Client(proxy.url, stack.token, retry=policy) as api, pytest.raises(RateLimited) as info:
        api.health()
    assert info.value.retry_after == 0.0 and info.value.request_id
    assert len(proxy.seen) == 3

    # A Retry-After longer than the policy accepts fails fast instead of sleeping.
    proxy.reset()
    proxy.inject(Fault(503, retry_after="3600"))
    with Client(proxy.url, stack.token, retry=QUICK) as api, pytest.raises(Unavailable) as unav:
        api.health()
    assert unav.value.retry_after == 3600.0 and len(proxy.seen) == 1

    # 500 is not retried: the server failed, and repeating may not help.
    proxy.reset()
    proxy.inject(Fault(500))
    with Client(proxy.url, stack.token, retry=QUICK) as api, pytest.raises(ServerError) as err:
        api.health()
    assert err.value.status == 500 and len(proxy.seen) == 1


def test_unreachable_server_raises_transport_failed_after_retries() -> None:
    from tools.testing.servers import free_port

    policy = RetryPolicy(max_retries=2, backoff_base=0.01)
    api = Client(f"http://127.0.0.1:{free_port()}", "t", retry=policy)
    with api, pytest.raises(TransportFailed) as info:
        api.health()
    assert info.value.status is None and "ConnectError" in info.value.message


def test_explicit_idempotency_key_replays_and_refuses_another_request(
    stack: Any, tmp_path: Path
) -> None:
    key = f"resubmit-{uuid.uuid4()}"
    image = shapes_png(tmp_path / "i.png", 24, 24)
    with Client(stack.base_url, stack.token, retry=NO_RETRY) as api:
        first = api.submit(image, max_paths=4, num_iterations=0, idempotency_key=key)
        again = api.submit(image, max_paths=4, num_iterations=0, idempotency_key=key)
        assert again.job_id == first.job_id
        with pytest.raises(Unprocessable) as info:
            api.submit(image, max_paths=5, num_iterations=0, idempotency_key=key)
    assert info.value.code == "IDEMPOTENCY_KEY_REUSED"
