"""Callback delivery over real HTTP on loopback: Standard Webhooks signatures, retries,
and SSRF refusal (loopback/private targets, redirects to them)."""

from __future__ import annotations

import asyncio
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from supersvg.common.ids import new_job_id
from supersvg.common.storage import LocalArtifactStore
from supersvg.common.webhooks import new_secret, verify
from supersvg.scheduler.callbacks import (
    CallbackRefusedError,
    DeliveryError,
    check_url,
    forbidden_address,
    post_json,
    resolve_checked,
)
from supersvg.scheduler.core import Scheduler, SchedulerError, SubmitRequest
from supersvg.scheduler.executors.local import LocalExecutor
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import open_store


class Handler(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[tuple[str, dict[str, str], bytes]]] = []
    statuses: ClassVar[list[int]] = []
    location = ""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).hits.append((self.path, dict(self.headers.items()), body))
        status = type(self).statuses.pop(0) if type(self).statuses else 200
        self.send_response(status)
        if status in (301, 302, 307, 308):
            self.send_header("Location", type(self).location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def receiver() -> Iterator[tuple[str, type[Handler]]]:
    handler = type("H", (Handler,), {"hits": [], "statuses": [], "location": ""})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()


@pytest.mark.parametrize(
    "addr",
    [
        "127.0.0.1",
        "10.1.2.3",
        "192.168.0.9",
        "172.16.5.5",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "224.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "fc00::1",
    ],
)
def test_forbidden_addresses(addr: str) -> None:
    import ipaddress

    assert forbidden_address(ipaddress.ip_address(addr))


def test_public_addresses_allowed() -> None:
    import ipaddress

    for addr in ("8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"):
        assert not forbidden_address(ipaddress.ip_address(addr))


@pytest.mark.parametrize(
    "url",
    [
        "ftp://x/y",
        "file:///etc/passwd",
        "http://",
        "http://user:pw@example.com/",
        "gopher://example.com",
    ],
)
def test_bad_urls(url: str) -> None:
    with pytest.raises(CallbackRefusedError):
        check_url(url)


async def test_resolution_checks_every_address() -> None:
    with pytest.raises(CallbackRefusedError):
        await resolve_checked("localhost", 80, allow_private=False)
    assert await resolve_checked("127.0.0.1", 80, allow_private=True) == ["127.0.0.1"]


async def test_post_refuses_private_and_private_redirects(
    receiver: tuple[str, type[Handler]],
) -> None:
    url, handler = receiver
    with pytest.raises(CallbackRefusedError):
        await post_json(url + "/x", b"{}", {}, 5, allow_private=False)
    assert handler.hits == [], "nothing was sent to a refused address"
    # Allowed receiver redirecting (307) to an address outside what is allowed is refused
    # too: the redirect target is checked like the first URL.
    handler.statuses = [307]
    handler.location = "http://169.254.169.254/latest/meta-data"
    with pytest.raises((CallbackRefusedError, DeliveryError)):
        await post_json(url + "/x", b"{}", {}, 2, allow_private=False)
    # A 307 to another path on an allowed host is followed (method and body kept).
    handler.statuses = [307, 204]
    handler.location = "/moved"
    assert await post_json(url + "/x", b'{"a":1}', {}, 5, allow_private=True) == 204
    assert [h[0] for h in handler.hits[-2:]] == ["/x", "/moved"]
    assert handler.hits[-1][2] == b'{"a":1}'
    handler.statuses = [302]
    handler.location = "/elsewhere"
    with pytest.raises(DeliveryError, match="302"):
        await post_json(url + "/x", b"{}", {}, 5, allow_private=True)


def _req(url: str) -> SubmitRequest:
    job_id = new_job_id()
    return SubmitRequest(
        tenant_id="t",
        job_id=job_id,
        input_key=f"jobs/{job_id}/input",
        max_paths=16,
        num_iterations=0,
        callback_url=url,
        request_hash="h",
    )


async def _scheduler(tmp_path: Path, **kw: Any) -> Scheduler:
    settings = SchedulerSettings(
        database_url=f"sqlite:///{tmp_path}/s.db",
        callback_backoff_seconds=0.2,
        callback_max_attempts=3,
        **kw,
    )
    store = await open_store(settings.database_url)
    # Workers are never launched here: capacity is filled by an impossible command.
    executor = LocalExecutor(["/bin/false"], 1, {}, "")
    s = Scheduler(settings, store, LocalArtifactStore(tmp_path / "a"), executor, "w:1")
    await store.migrate()
    return s


async def test_submit_refuses_private_callback(tmp_path: Path) -> None:
    s = await _scheduler(tmp_path, callback_secret=new_secret())
    try:
        for url in (
            "http://127.0.0.1:9/x",
            "http://localhost/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
        ):
            with pytest.raises(SchedulerError) as err:
                await s.submit(_req(url), "", "")
            assert err.value.code == "INVALID_CALLBACK_URL"
    finally:
        await s.store.close()


async def test_delivery_signs_and_retries_with_backoff(
    tmp_path: Path, receiver: tuple[str, type[Handler]]
) -> None:
    url, handler = receiver
    secret = new_secret()
    s = await _scheduler(tmp_path, callback_secret=secret, callback_allow_private=True)
    try:
        rec, _ = await s.submit(_req(url + "/hook"), "", "")
        handler.statuses = [503, 500, 200]
        await s.cancel("t", rec.job_id)  # a terminal state: the callback is queued
        for _ in range(60):
            await s._deliver_due()
            (cb,) = await s.store.callbacks_for(rec.job_id)
            if cb.state != "pending":
                break
            await asyncio.sleep(0.1)
        assert cb.state == "delivered" and cb.attempts == 3
        assert len(handler.hits) == 3
        ids = {h[1]["webhook-id"] for h in handler.hits}
        assert ids == {cb.delivery_id}
        times = [int(h[1]["webhook-timestamp"]) for h in handler.hits]
        assert times == sorted(times)
        for _, headers, body in handler.hits:
            verify(secret, headers, body)
        assert b'"type":"job.cancelled"' in handler.hits[-1][2]
    finally:
        await s.store.close()


async def test_delivery_gives_up_and_refuses(
    tmp_path: Path, receiver: tuple[str, type[Handler]]
) -> None:
    url, handler = receiver
    s = await _scheduler(tmp_path, callback_secret=new_secret(), callback_allow_private=True)
    try:
        rec, _ = await s.submit(_req(url + "/hook"), "", "")
        handler.statuses = [500] * 10
        await s.cancel("t", rec.job_id)
        for _ in range(80):
            await s._deliver_due()
            (cb,) = await s.store.callbacks_for(rec.job_id)
            if cb.state != "pending":
                break
            await asyncio.sleep(0.1)
        assert cb.state == "failed" and cb.attempts == 3 and "500" in cb.last_error
        # A callback whose target became private (DNS rebinding) is refused at delivery.
        s.settings = s.settings.model_copy(update={"callback_allow_private": False})
        await s.store.update_callback(cb.delivery_id, state="pending", next_attempt_at=0.0)
        hits = len(handler.hits)
        await s._deliver_due()
        (cb,) = await s.store.callbacks_for(rec.job_id)
        assert cb.state == "refused" and len(handler.hits) == hits
    finally:
        await s.store.close()
