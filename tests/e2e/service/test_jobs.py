"""Cancel (queued and running), idempotency, tenant isolation, listing, signed callbacks,
tracing across processes, and a scheduler restart in the middle of a running job."""

from __future__ import annotations

import http.server
import json
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ClassVar

import httpx
import pytest

from supersvg.common.webhooks import WebhookVerificationError, verify
from tools.testing.service import FAST, assert_error, png_bytes, submit, wait_status
from tools.testing.stack import Stack

JOBS = "/api/v1/vectorize/jobs"
SLOW = {"max_paths": 32, "num_iterations": 400}


def _wait_worker_running(client: httpx.Client, stack: Stack, job_id: str) -> None:
    """Running and past start-up (the worker has reported a real stage)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = wait_status(client, stack, job_id, ("running", "completed", "failed"))
        if body["status"] != "running" or body["stage"] not in ("starting", "queued", ""):
            return
        time.sleep(0.2)


def test_cancel_queued_and_running(stack: Stack, client: httpx.Client) -> None:
    h = stack.headers()
    running = submit(client, stack, SLOW).json()["job_id"]
    running2 = submit(client, stack, SLOW).json()["job_id"]  # fills the second slot
    queued = submit(client, stack, FAST).json()["job_id"]
    assert wait_status(client, stack, queued, ("queued",))["status"] == "queued"

    r = client.post(f"{stack.base_url}{JOBS}/{queued}/cancel", headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {"job_id": queued, "status": "cancelled"}
    # Cancelling twice is fine; the job never runs.
    assert client.post(f"{stack.base_url}{JOBS}/{queued}/cancel", headers=h).json()["status"] == (
        "cancelled"
    )

    _wait_worker_running(client, stack, running)
    r = client.post(f"{stack.base_url}{JOBS}/{running}/cancel", headers=h)
    assert r.status_code == 200
    assert r.json()["status"] in ("cancelling", "cancelled")
    started = time.monotonic()
    final = wait_status(client, stack, running, ("cancelled",), timeout=30)
    assert final["finished_at"]
    assert time.monotonic() - started < 15, "the worker stopped within the grace periods"
    assert_error(
        client.get(f"{stack.base_url}{JOBS}/{running}/result", headers=h),
        409,
        "JOB_NOT_COMPLETED",
    )
    # The worker process is gone: its log ends with an exit (cancelled or killed).
    sched_log = stack.log("scheduler")
    exits = [
        json.loads(line)
        for line in sched_log.splitlines()
        if '"worker exited"' in line and running in line
    ]
    assert exits and exits[-1]["exit_code"] in (3, -15, -9)
    assert wait_status(client, stack, queued, ("cancelled",))["started_at"] is None
    client.post(f"{stack.base_url}{JOBS}/{running2}/cancel", headers=h)
    wait_status(client, stack, running2, ("cancelled", "completed", "failed"), timeout=30)


def test_idempotency(stack: Stack, client: httpx.Client) -> None:
    key = {"Idempotency-Key": f"order-{time.time_ns()}"}
    image = png_bytes(64, seed=3)
    a = submit(client, stack, FAST, image=image, headers=key)
    b = submit(client, stack, FAST, image=image, headers=key)
    assert a.status_code == b.status_code == 202
    assert a.json()["job_id"] == b.json()["job_id"]
    assert b.headers["idempotency-replayed"] == "true"
    # Same key, different request (other config, other image) -> 422.
    assert_error(
        submit(client, stack, {**FAST, "max_paths": 17}, image=image, headers=key),
        422,
        "IDEMPOTENCY_KEY_REUSED",
    )
    assert_error(
        submit(client, stack, FAST, image=png_bytes(64, seed=9), headers=key),
        422,
        "IDEMPOTENCY_KEY_REUSED",
    )
    # Keys are per tenant: the same key for another tenant is a new job.
    other = submit(client, stack, FAST, image=image, headers=key, tenant="tenant-b")
    assert other.status_code == 202 and other.json()["job_id"] != a.json()["job_id"]
    wait_status(client, stack, a.json()["job_id"], ("completed", "failed"))
    wait_status(client, stack, other.json()["job_id"], ("completed", "failed"), tenant="tenant-b")


def test_idempotency_concurrent_duplicate_conflicts(stack: Stack, client: httpx.Client) -> None:
    key = f"slow-{time.time_ns()}"
    image = png_bytes(64, seed=5)
    boundary = "b0undary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="config"\r\n\r\n'
        f"{json.dumps(FAST)}\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="image"; filename="a.png"\r\n'
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    release = threading.Event()
    sent_head = threading.Event()

    def slow_body() -> Iterator[bytes]:
        yield head
        yield image[:100]
        sent_head.set()
        release.wait(20)  # keep the first request in flight
        yield image[100:]
        yield f"\r\n--{boundary}--\r\n".encode()

    headers = {
        **stack.headers(),
        "Idempotency-Key": key,
        "Content-Type": f"multipart/form-data; boundary={boundary}",
    }
    with ThreadPoolExecutor(1) as pool, httpx.Client(timeout=30) as c2:
        first = pool.submit(
            c2.post, f"{stack.base_url}{JOBS}", content=slow_body(), headers=headers
        )
        assert sent_head.wait(20)
        time.sleep(1.5)  # the gateway has authenticated the first request and holds its key
        second = submit(client, stack, FAST, image=image, headers={"Idempotency-Key": key})
        release.set()
        r1 = first.result(timeout=30)
    assert_error(second, 409, "IDEMPOTENCY_IN_PROGRESS")
    assert r1.status_code == 202, r1.text
    # After the first finished, the same request replays it.
    again = submit(client, stack, FAST, image=image, headers={"Idempotency-Key": key})
    assert again.json()["job_id"] == r1.json()["job_id"]
    wait_status(client, stack, r1.json()["job_id"], ("completed", "failed"))


def test_tenant_isolation_and_listing(stack: Stack, client: httpx.Client) -> None:
    mine = submit(client, stack, FAST, tenant="tenant-a").json()["job_id"]
    theirs_h = stack.headers("tenant-b")
    for method, path in (
        ("GET", f"{JOBS}/{mine}"),
        ("GET", f"{JOBS}/{mine}/result"),
        ("POST", f"{JOBS}/{mine}/cancel"),
    ):
        r = client.request(method, f"{stack.base_url}{path}", headers=theirs_h)
        assert_error(r, 404, "JOB_NOT_FOUND")
    listed_b = client.get(f"{stack.base_url}{JOBS}?page_size=100", headers=theirs_h).json()
    assert mine not in {j["job_id"] for j in listed_b["jobs"]}
    wait_status(client, stack, mine, ("completed", "failed"), tenant="tenant-a")

    # Pagination: newest first, pages do not overlap, the last page has no token.
    token = stack.new_token("tenant-pages")
    stack.tokens["tenant-pages"] = token
    ids = [submit(client, stack, FAST, tenant="tenant-pages").json()["job_id"] for _ in range(3)]
    seen: list[str] = []
    page_token = ""
    h = stack.headers("tenant-pages")
    while True:
        params: dict[str, Any] = {"page_size": 2}
        if page_token:
            params["page_token"] = page_token
        page = client.get(f"{stack.base_url}{JOBS}", params=params, headers=h).json()
        seen += [j["job_id"] for j in page["jobs"]]
        page_token = page["next_page_token"]
        if not page_token:
            break
    assert seen == list(reversed(ids))
    queued_only = client.get(
        f"{stack.base_url}{JOBS}", params={"status": "completed"}, headers=h
    ).json()
    assert all(j["status"] == "completed" for j in queued_only["jobs"])
    for job_id in ids:
        wait_status(client, stack, job_id, ("completed", "failed"), tenant="tenant-pages")


class _Receiver(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    fail_first = 0

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers.items()), body))
        if type(self).fail_first > 0:
            type(self).fail_first -= 1
            self.send_response(500)
        else:
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[_Receiver]]]:
    handler = type("Receiver", (_Receiver,), {"received": [], "fail_first": 1})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook?x=1", handler
    finally:
        server.shutdown()


def test_signed_callback_with_retry(
    stack: Stack, client: httpx.Client, receiver: tuple[str, type[_Receiver]]
) -> None:
    url, handler = receiver
    job_id = submit(client, stack, {**FAST, "callback_url": url}).json()["job_id"]
    final = wait_status(client, stack, job_id, ("completed", "failed"))
    deadline = time.monotonic() + 20
    while len(handler.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(handler.received) == 2, "first delivery failed (500) and was retried"
    (h1, _b1), (h2, b2) = handler.received
    assert h1["webhook-id"] == h2["webhook-id"], "a retry keeps the message id"
    for headers, body in handler.received:
        assert headers["webhook-signature"].startswith("v1,")
        verify(stack.webhook_secret, headers, body)  # raises when the signature is wrong
    with pytest.raises(WebhookVerificationError):
        verify(stack.webhook_secret, h2, b2.replace(b"job.", b"jab."))
    with pytest.raises(WebhookVerificationError):
        verify("whsec_" + "QUJD" * 8, h2, b2)
    event = json.loads(b2)
    assert event["type"] == f"job.{final['status']}"
    assert event["data"]["job_id"] == job_id and event["data"]["status"] == final["status"]


def test_trace_id_spans_gateway_scheduler_worker(stack: Stack, client: httpx.Client) -> None:
    r = submit(client, stack, FAST)
    trace_id = r.headers["x-trace-id"]
    job_id = r.json()["job_id"]
    body = wait_status(client, stack, job_id, ("completed", "failed"))
    assert body["trace_id"] == trace_id
    assert trace_id in stack.worker_logs(job_id)
    sched = [json.loads(x) for x in stack.log("scheduler").splitlines() if job_id in x]
    assert any(rec.get("trace_id") == trace_id for rec in sched)
    queued = next(rec for rec in sched if rec["message"] == "job queued")
    assert queued["request_id"] == r.headers["x-request-id"], "request ids reach the scheduler"
    gw = [json.loads(x) for x in stack.log("gateway").splitlines() if job_id in x]
    assert any(rec.get("trace_id") == trace_id and rec.get("request_id") for rec in gw)


def test_restart_mid_job_loses_nothing(stack: Stack, client: httpx.Client) -> None:
    running = submit(client, stack, {"max_paths": 16, "num_iterations": 10}).json()["job_id"]
    queued = [submit(client, stack, FAST).json()["job_id"] for _ in range(2)]
    _wait_worker_running(client, stack, running)
    stack.restart_scheduler(kill=True)  # SIGKILL: no chance to clean up
    final = wait_status(client, stack, running, ("completed", "failed"), timeout=90)
    assert final["status"] == "completed", final
    assert final["attempts"] >= 2, "the interrupted attempt was retried"
    for job_id in queued:
        assert (
            wait_status(client, stack, job_id, ("completed", "failed"), timeout=90)["status"]
            == "completed"
        )
    res = client.get(f"{stack.base_url}{JOBS}/{running}/result", headers=stack.headers())
    assert client.get(res.json()["result"]["svg_url"]).status_code == 200
