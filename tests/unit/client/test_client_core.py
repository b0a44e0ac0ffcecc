"""Pure parts of the client: errors, retry policy, uploads, pages, parsing."""

from __future__ import annotations

import email.utils
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from supersvg.client import (
    Client,
    Conflict,
    InvalidRequest,
    Job,
    JobResult,
    NotFound,
    PayloadTooLarge,
    PermissionDenied,
    RateLimited,
    RetryPolicy,
    ServerError,
    SuperSVGError,
    TransportFailed,
    Unauthenticated,
    Unavailable,
    Unprocessable,
)
from supersvg.client._core import (
    build_config,
    normalize_base_url,
    parse_page,
    parse_retry_after,
    prepare_image,
    same_origin,
)
from supersvg.client.errors import error_from_response

PNG_HEAD = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidRequest),
        (401, Unauthenticated),
        (403, PermissionDenied),
        (404, NotFound),
        (409, Conflict),
        (413, PayloadTooLarge),
        (422, Unprocessable),
        (429, RateLimited),
        (500, ServerError),
        (502, ServerError),
        (503, Unavailable),
        (418, SuperSVGError),
    ],
)
def test_error_class_per_status(status: int, cls: type[SuperSVGError]) -> None:
    body = json.dumps(
        {"error": {"code": "SOME_CODE", "message": "went wrong", "details": {"field": "x"}}}
    ).encode()
    err = error_from_response(status, body, request_id="req_abc")
    assert type(err) is cls
    assert isinstance(err, SuperSVGError)
    assert (err.status, err.code, err.message) == (status, "SOME_CODE", "went wrong")
    assert err.details == {"field": "x"}
    assert err.request_id == "req_abc"
    assert "req_abc" in str(err) and "went wrong" in str(err) and str(status) in str(err)


def test_error_without_error_model_keeps_text_and_default_code() -> None:
    err = error_from_response(502, b"<html>Bad gateway</html>")
    assert isinstance(err, ServerError)
    assert err.code == "INTERNAL" and "Bad gateway" in err.message
    err = error_from_response(422, json.dumps({"detail": [{"loc": ["x"]}]}).encode())
    assert isinstance(err, Unprocessable) and "loc" in err.message
    assert error_from_response(404, b"").message == "HTTP 404"


def test_rate_limited_carries_retry_after() -> None:
    err = error_from_response(429, b"{}", retry_after=7.0)
    assert isinstance(err, RateLimited) and err.retry_after == 7.0


def test_parse_retry_after_seconds_and_date() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 0.5 ") == 0.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 12, usegmt=True)
    assert parse_retry_after(date, now=now) == pytest.approx(12.0)
    assert parse_retry_after(email.utils.formatdate(now - 50, usegmt=True), now=now) == 0.0


def test_retry_policy_backoff_and_limits() -> None:
    policy = RetryPolicy(max_retries=3, backoff_base=1.0, backoff_max=3.0, max_retry_after=10)
    for attempt, cap in ((1, 1.0), (2, 2.0), (3, 3.0)):
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(d is not None and 0 <= d <= cap for d in delays)
        assert max(d for d in delays if d is not None) > cap / 2  # jitter spans the range
    assert policy.delay(4) is None
    assert policy.delay(1, retry_after=9.0) == 9.0  # the server's hint wins
    assert policy.delay(1, retry_after=11.0) is None  # too long: fail fast
    assert RetryPolicy.retryable_status(429) and RetryPolicy.retryable_status(503)
    assert not RetryPolicy.retryable_status(500)
    req = httpx.Request("POST", "http://x")
    assert policy.retryable_transport(httpx.ConnectError("no", request=req), idempotent=False)
    assert not policy.retryable_transport(httpx.ReadError("no", request=req), idempotent=False)
    assert policy.retryable_transport(httpx.ReadError("no", request=req), idempotent=True)
    with pytest.raises(ValueError):
        RetryPolicy(max_retries=-1)


def test_normalize_base_url() -> None:
    assert normalize_base_url("http://h:8080/") == "http://h:8080"
    assert normalize_base_url("http://h:8080/api/v1/") == "http://h:8080"
    assert normalize_base_url("https://h/svc/api/v1") == "https://h/svc"
    for bad in ("", "h:8080", "ftp://h", "http://"):
        with pytest.raises(ValueError):
            normalize_base_url(bad)


def test_token_goes_only_to_the_api_origin() -> None:
    assert same_origin("http://h:8080/files/x?sig=1", "http://h:8080")
    assert not same_origin("http://s3:9000/bucket/x", "http://h:8080")
    assert not same_origin("https://h:8080/x", "http://h:8080")
    api = Client("http://h:8080", token="tok")
    try:
        own = api._headers("http://h:8080/api/v1/health", "req_1", None)
        other = api._headers("http://s3:9000/b/o?X-Amz-Signature=a", "req_1", None)
    finally:
        api.close()
    assert own["Authorization"] == "Bearer tok" and own["X-Request-Id"] == "req_1"
    assert "Authorization" not in other


def test_prepare_image_from_path_bytes_and_file(tmp_path: Path) -> None:
    path = tmp_path / "pic.png"
    path.write_bytes(PNG_HEAD)
    assert prepare_image(path) == ("pic.png", PNG_HEAD, "image/png")
    assert prepare_image(str(path))[0] == "pic.png"
    assert prepare_image(b"\xff\xd8\xff\xe0rest")[2] == "image/jpeg"
    assert prepare_image(b"RIFF\x00\x00\x00\x00WEBPVP8 ")[2] == "image/webp"
    octets = ("a.bin", b"hello", "application/octet-stream")
    assert prepare_image(b"hello", filename="a.bin") == octets
    with path.open("rb") as fh:
        assert prepare_image(fh) == ("pic.png", PNG_HEAD, "image/png")
    assert prepare_image(io.BytesIO(PNG_HEAD))[1] == PNG_HEAD
    with pytest.raises(FileNotFoundError):
        prepare_image(tmp_path / "missing.png")
    with pytest.raises(ValueError):
        prepare_image(b"")
    with pytest.raises(TypeError):
        prepare_image(io.StringIO("text"))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        prepare_image(42)  # type: ignore[arg-type]


def test_build_config_merges_overrides() -> None:
    assert build_config(None, {"max_paths": None}) is None
    text = build_config({"max_paths": 10, "seed": 1}, {"max_paths": 64, "priority": None})
    cfg = json.loads(text or "")
    assert cfg == {"max_paths": 64, "seed": 1}


def test_job_and_result_parsing() -> None:
    job = Job.from_json(
        {
            "job_id": "job_1",
            "status": "running",
            "progress": 42,
            "created_at": "2026-02-28T12:00:00Z",
            "started_at": "2026-02-28T12:00:15+00:00",
            "finished_at": None,
            "error": None,
        }
    )
    assert job.progress == 42.0 and not job.done and job.stage is None
    assert Job.from_json({"job_id": "j", "status": "running", "stage": "refine"}).stage == "refine"
    assert job.created_at == datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
    assert job.started_at is not None and job.finished_at is None
    assert Job.from_json({"job_id": "j", "status": "cancelling"}).progress == 0.0
    assert Job.from_json({"job_id": "j", "status": "expired"}).done
    failed = Job.from_json({"job_id": "j", "status": "failed", "error": "boom"})
    assert failed.done and not failed.succeeded and failed.error == {"message": "boom"}
    with pytest.raises(ValueError):
        Job.from_json({"status": "queued"})
    res = JobResult.from_json(
        {
            "job_id": "job_1",
            "status": "completed",
            "result": {"svg_url": "/x.svg", "preview_png_url": None, "metrics": {"num_paths": 3}},
        }
    )
    assert (res.svg_url, res.preview_png_url, res.metrics) == ("/x.svg", None, {"num_paths": 3})
    with pytest.raises(ValueError):
        JobResult.from_json({"job_id": "job_1", "status": "running", "result": None})


def test_parse_page() -> None:
    jobs, token = parse_page(
        {"jobs": [{"job_id": "a", "status": "queued"}], "next_page_token": "t2"}
    )
    assert [j.job_id for j in jobs] == ["a"] and token == "t2"
    assert parse_page({"jobs": [], "next_page_token": None}) == ([], None)
    with pytest.raises(ValueError):
        parse_page({"items": []})


def test_transport_failure_is_typed_and_retried_before_giving_up() -> None:
    calls: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    policy = RetryPolicy(max_retries=2, backoff_base=0.0)
    api = Client("http://h:1", "t", retry=policy, transport=httpx.MockTransport(refuse))
    with api, pytest.raises(TransportFailed) as info:
        api.get("job_x")
    assert len(calls) == 3
    assert info.value.status is None and info.value.request_id
    # one request id for the logical call, kept across its retries
    assert len({r.headers["x-request-id"] for r in calls}) == 1


def test_job_id_is_escaped_and_checked() -> None:
    api = Client("http://h:1", "t")
    try:
        assert api._job_path("a/b") == "/vectorize/jobs/a%2Fb"
        with pytest.raises(ValueError):
            api._job_path("")
    finally:
        api.close()


def test_retryable_answers() -> None:
    def answer(status: int, code: str | None = None) -> httpx.Response:
        body = {"error": {"code": code, "message": "m", "details": {}}} if code else None
        return httpx.Response(status, json=body) if body else httpx.Response(status)

    assert RetryPolicy.retryable_answer(answer(429))
    assert RetryPolicy.retryable_answer(answer(503, "SCHEDULER_UNAVAILABLE"))
    assert RetryPolicy.retryable_answer(answer(409, "IDEMPOTENCY_IN_PROGRESS"))
    assert not RetryPolicy.retryable_answer(answer(409, "INVALID_STATE"))
    assert not RetryPolicy.retryable_answer(answer(409))
    assert not RetryPolicy.retryable_answer(answer(500, "INTERNAL"))
