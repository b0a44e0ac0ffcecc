"""A real signed callback from the scheduler, checked with ``verify_webhook``."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from supersvg.client import Client, WebhookVerificationError, verify_webhook
from tools.testing.images import shapes_png

pytestmark = pytest.mark.timeout(300)


class Receiver:
    """An HTTP server on loopback that keeps each POST's raw body and headers."""

    def __init__(self) -> None:
        self.received: queue.Queue[tuple[str, dict[str, str], bytes]] = queue.Queue()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                received.put((self.path, dict(self.headers.items()), body))
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}/hooks/supersvg"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    rec.thread.start()
    try:
        yield rec
    finally:
        rec.server.shutdown()
        rec.server.server_close()


def test_real_callback_verifies_and_tampering_is_rejected(
    stack: Any, receiver: Receiver, tmp_path: Path
) -> None:
    image = shapes_png(tmp_path / "w.png", 32, 32)
    with Client(stack.base_url, stack.token) as api:
        job = api.submit(image, max_paths=4, num_iterations=0, callback_url=receiver.url)
        final = api.wait(job.job_id, timeout=240, poll_interval=0.2)
    assert final.status == "completed"
    path, headers, body = receiver.received.get(timeout=60)
    assert path == "/hooks/supersvg"

    event = verify_webhook(body, headers, stack.webhook_secret)
    assert event["data"]["job_id"] == job.job_id
    assert event["data"]["status"] == "completed"
    assert event["type"] == "job.completed"

    # One byte changed in the body, or another id, and the signature no longer matches.
    tampered = body.replace(b'"completed"', b'"cancelled"', 1)
    assert tampered != body
    with pytest.raises(WebhookVerificationError):
        verify_webhook(tampered, headers, stack.webhook_secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, {**_lower(headers), "webhook-id": "msg_forged"}, stack.webhook_secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(body, headers, "whsec_" + "QUJD" * 8)

    # Replayed later than the tolerance allows: stale, rejected although authentic.
    sent_at = int(_lower(headers)["webhook-timestamp"])
    assert abs(time.time() - sent_at) < 120
    time.sleep(max(0.0, sent_at + 2.2 - time.time()))
    with pytest.raises(WebhookVerificationError, match="away from now"):
        verify_webhook(body, headers, stack.webhook_secret, tolerance=2)


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}
