"""Security: authentication on every endpoint, tenant isolation, signed links, path
traversal, callback SSRF (resolver pinning, redirects), secrets kept out of logs, and
rate limits under concurrency."""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import ipaddress
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import httpx
import pytest

from supersvg.gateway.signing import sign_artifact
from supersvg.scheduler import callbacks
from tools.testing.reliability import FAST, Workload, png_bytes, record
from tools.testing.stack import Stack, start_stack

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(
        tmp_path_factory.mktemp("sec") / ".data",
        env={"SUPERSVG_LOG_LEVEL": "DEBUG", "SUPERSVG_SCHEDULER_MAX_CONCURRENCY": "1"},
    )
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture(scope="module")
def done_job(stack: Stack) -> str:
    with httpx.Client(timeout=30) as c:
        wl = Workload(stack, "tenant-a", c)
        wl.submit(1)
        wl.settle(120)
        assert wl.final[wl.job_ids[0]]["status"] == "completed"
        return wl.job_ids[0]


def _error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.request.method, r.request.url, r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return dict(body["error"])


def _endpoints(job_id: str) -> list[tuple[str, str, dict[str, Any]]]:
    form = {"files": {"image": ("a.png", png_bytes())}, "data": {"config": '{"max_paths": 8}'}}
    return [
        ("POST", "/api/v1/vectorize/jobs", form),
        ("GET", "/api/v1/vectorize/jobs", {}),
        ("GET", f"/api/v1/vectorize/jobs/{job_id}", {}),
        ("GET", f"/api/v1/vectorize/jobs/{job_id}/result", {}),
        ("POST", f"/api/v1/vectorize/jobs/{job_id}/cancel", {}),
    ]


def test_every_endpoint_requires_a_valid_token(stack: Stack, done_job: str) -> None:
    wrong = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer not-a-token"},
        {"Authorization": f"Bearer {stack.token}x"},
        {"Authorization": f"bearer {stack.token[:-1]}"},
    ]
    checked = 0
    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        for method, path, kw in _endpoints(done_job):
            for headers in wrong:
                r = c.request(method, path, headers=headers, **kw)
                _error(r, 401, "UNAUTHENTICATED")
                assert r.headers["www-authenticate"].startswith("Bearer")
                checked += 1
    record("security", check="endpoints x bad tokens", requests=checked, failures=0)


def test_another_tenants_job_is_invisible(stack: Stack, done_job: str) -> None:
    other = {"Authorization": f"Bearer {stack.tokens['tenant-b']}"}
    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        for method, path, kw in _endpoints(done_job)[2:]:
            _error(c.request(method, path, headers=other, **kw), 404, "JOB_NOT_FOUND")
        listed = c.get("/api/v1/vectorize/jobs", headers=other).json()["jobs"]
        assert done_job not in {j["job_id"] for j in listed}
        # The owner still sees it, unchanged by the other tenant's cancel attempt.
        mine = c.get(f"/api/v1/vectorize/jobs/{done_job}", headers=stack.headers("tenant-a"))
        assert mine.json()["status"] == "completed"


@pytest.mark.parametrize(
    "job_id",
    [
        "..",
        "..%2F..%2Fsecrets.json",
        "job_..%2F..%2F..%2Fetc%2Fpasswd",
        "job_01ARZ3NDEKTSV4RRFFQ69G5FA%00",
        "job_" + "A" * 500,
        "%2e%2e%2f%2e%2e%2f",
        "job_01arz3ndektsv4rrffq69g5fav",
    ],
)
def test_path_traversal_in_job_ids(stack: Stack, job_id: str) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        for suffix in ("", "/result"):
            r = c.get(f"/api/v1/vectorize/jobs/{job_id}{suffix}", headers=stack.headers())
            assert r.status_code == 404, (job_id, r.text)
            assert r.json()["error"]["code"] in ("JOB_NOT_FOUND", "NOT_FOUND")
        r = c.post(f"/api/v1/vectorize/jobs/{job_id}/cancel", headers=stack.headers())
        assert r.status_code == 404, r.text


def test_signed_links_never_serve_the_input_or_escape_the_store(
    stack: Stack, done_job: str
) -> None:
    key = stack.signing_key.encode()
    good = f"jobs/{done_job}/output.svg"
    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        ok_url = c.get(f"/api/v1/vectorize/jobs/{done_job}/result", headers=stack.headers()).json()[
            "result"
        ]["svg_url"]
        assert c.get(ok_url).status_code == 200
        q = {k: v[0] for k, v in parse_qs(urlsplit(ok_url).query).items()}
        # Query tampering: the signature of one link does not open another.
        for artifact in (f"jobs/{done_job}/input", f"jobs/{done_job}/preview.png"):
            r = c.get(f"/api/v1/artifacts/{quote(artifact)}", params=q)
            _error(r, 403, "INVALID_SIGNATURE")
        _error(c.get(f"/api/v1/artifacts/{quote(good)}"), 400, "INVALID_ARGUMENT")
        # Expiry: a correctly signed link one second past its time, and a far-future forgery.
        past = int(time.time()) - 1
        r = c.get(
            f"/api/v1/artifacts/{quote(good)}",
            params={"expires": past, "signature": sign_artifact(key, good, past)},
        )
        assert "expired" in _error(r, 403, "INVALID_SIGNATURE")["message"]
        r = c.get(
            f"/api/v1/artifacts/{quote(good)}",
            params={"expires": 2**62, "signature": q["signature"]},
        )
        _error(r, 403, "INVALID_SIGNATURE")
        # Even correctly signed (a leaked key), the input and paths outside jobs/ are refused.
        expires = int(time.time()) + 60
        for artifact in (
            f"jobs/{done_job}/input",
            f"jobs/{done_job}/../../secrets.json",
            "../secrets.json",
            "/etc/passwd",
            f"jobs/{done_job}/output.svg/../../../scheduler.db",
        ):
            sig = sign_artifact(key, artifact, expires)
            r = c.get(
                f"/api/v1/artifacts/{quote(artifact, safe='/')}",
                params={"expires": expires, "signature": sig},
            )
            assert r.status_code in (403, 404), (artifact, r.status_code, r.text)
            assert "webhook_secret" not in r.text and "root:" not in r.text


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.4/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[fe80::1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",
        "http://0x7f000001/hook",
        "ftp://93.184.216.34/hook",
        "file:///etc/passwd",
        "http://user:secret@93.184.216.34/hook",
        "gopher://127.0.0.1:6379/_INFO",
    ],
)
def test_callback_ssrf_refused_at_submit(stack: Stack, url: str) -> None:
    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        r = c.post(
            "/api/v1/vectorize/jobs",
            files={"image": ("a.png", png_bytes())},
            data={"config": __import__("json").dumps({**FAST, "callback_url": url})},
            headers=stack.headers(),
        )
        assert r.status_code == 422, (url, r.text)
        assert r.json()["error"]["code"] in ("INVALID_CALLBACK_URL", "INVALID_CONFIG"), r.text


class _Resolver:
    """A DNS answer that changes: a public address first, then a private one."""

    def __init__(self, answers: list[list[str]]) -> None:
        self.answers = answers
        self.calls = 0

    async def getaddrinfo(self, host: str, port: int, **_: Any) -> list[Any]:
        with contextlib.suppress(ValueError):
            ipaddress.ip_address(host)  # a literal resolves to itself, as in real DNS
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (host, port))]
        answer = self.answers[min(self.calls, len(self.answers) - 1)]
        self.calls += 1
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (a, port)) for a in answer]


@contextlib.contextmanager
def _patched(resolver: _Resolver, connect: Any) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    orig_gai, orig_conn = loop.getaddrinfo, callbacks.asyncio.open_connection
    loop.getaddrinfo = resolver.getaddrinfo  # type: ignore[method-assign,assignment]
    callbacks.asyncio.open_connection = connect  # type: ignore[assignment]
    try:
        yield
    finally:
        loop.getaddrinfo = orig_gai  # type: ignore[method-assign]
        callbacks.asyncio.open_connection = orig_conn


async def test_dns_rebinding_connects_only_to_the_checked_address() -> None:
    """The answer turns private after the check: the connection still goes to the checked
    public address, never to the private one."""
    resolver = _Resolver([["93.184.216.34"], ["127.0.0.1"]])
    dialled: list[str] = []

    async def connect(host: str, port: int, **_: Any) -> Any:
        dialled.append(host)
        raise ConnectionRefusedError("no network in tests")

    with _patched(resolver, connect), pytest.raises(callbacks.DeliveryError):
        await callbacks.post_json("http://hooks.example.com/x", b"{}", {}, 2.0, False)
    assert dialled == ["93.184.216.34"]
    assert resolver.calls == 1, "one resolution per hop: the checked answer is the one used"
    # A name with any private address among its answers is refused outright.
    with (
        _patched(_Resolver([["93.184.216.34", "10.0.0.7"]]), connect),
        pytest.raises(callbacks.CallbackRefusedError),
    ):
        await callbacks.post_json("http://hooks.example.com/x", b"{}", {}, 2.0, False)
    # The private answer on a later delivery (rebinding between deliveries) is refused too.
    with _patched(resolver, connect), pytest.raises(callbacks.CallbackRefusedError):
        await callbacks.post_json("http://hooks.example.com/x", b"{}", {}, 2.0, False)
    assert dialled == ["93.184.216.34"]


class _Redirector(http.server.BaseHTTPRequestHandler):
    location = ""
    status = 307

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(self.status)
        self.send_header("Location", self.location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.mark.parametrize(
    ("status", "location", "error"),
    [
        (307, "http://127.0.0.1:9/admin", callbacks.CallbackRefusedError),
        (308, "http://169.254.169.254/latest/meta-data/", callbacks.CallbackRefusedError),
        (307, "http://[::1]:9/", callbacks.CallbackRefusedError),
        (302, "http://93.184.216.35/", callbacks.DeliveryError),  # 302 is not followed
    ],
)
async def test_redirects_to_private_addresses_are_refused(
    status: int, location: str, error: type[Exception]
) -> None:
    handler = type("R", (_Redirector,), {"location": location, "status": status})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    real_connect = asyncio.open_connection
    dialled: list[str] = []

    async def connect(host: str, port: int, **kw: Any) -> Any:
        # The "public" receiver is our loopback server; any other address is recorded only.
        dialled.append(host)
        if host == "93.184.216.34":
            return await real_connect("127.0.0.1", server.server_address[1])
        raise ConnectionRefusedError(host)

    try:
        resolver = _Resolver([["93.184.216.34"]])
        with _patched(resolver, connect), pytest.raises(error):
            await callbacks.post_json("http://hooks.example.com/x", b"{}", {}, 2.0, False)
        assert dialled == ["93.184.216.34"], "the redirect target was never dialled"
    finally:
        server.shutdown()


def test_rate_limit_holds_under_concurrency(stack: Stack) -> None:
    limit = 30
    token = stack.new_token("rl-tenant", rate_limit=limit)
    headers = {"Authorization": f"Bearer {token}"}
    total = 120

    with httpx.Client(base_url=stack.base_url, timeout=30) as c:
        c.get("/api/v1/vectorize/jobs", headers=headers)  # warm the auth cache (1 token)

        def one(_: int) -> httpx.Response:
            return c.get("/api/v1/vectorize/jobs", headers=headers)

        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(one, range(total)))
        elapsed = time.monotonic() - started
    ok = sum(r.status_code == 200 for r in answers)
    limited = [r for r in answers if r.status_code == 429]
    assert ok + len(limited) == total, {r.status_code for r in answers}
    # Burst of `limit`, minus the warm-up, plus what refilled while the burst ran.
    assert ok <= limit - 1 + int(elapsed * limit / 60) + 1, (ok, elapsed)
    assert ok >= limit - 2
    for r in limited:
        assert r.json()["error"]["code"] == "RATE_LIMITED"
        assert int(r.headers["retry-after"]) >= 1
    record(
        "security",
        check="rate limit under 16 concurrent clients",
        requests=total,
        allowed=ok,
        limited=len(limited),
        limit_per_minute=limit,
    )


def test_secrets_never_in_logs(stack: Stack, done_job: str) -> None:
    """Run last in this module: every token, key and worker token used so far is absent
    from the gateway, scheduler and worker logs (DEBUG level)."""
    with sqlite3.connect(stack.data_dir / "scheduler.db") as db:
        worker_tokens = [r[0] for r in db.execute("SELECT worker_token FROM jobs") if r[0]]
    assert worker_tokens, "the worker tokens are known to the test"
    secrets_ = {
        **{f"token:{t}": v for t, v in stack.tokens.items()},
        "signing_key": stack.signing_key,
        "webhook_secret": stack.webhook_secret,
        "webhook_key": stack.webhook_secret.removeprefix("whsec_"),
        **{f"worker_token:{i}": v for i, v in enumerate(worker_tokens)},
    }
    logs = {
        "gateway": stack.log("gateway"),
        "scheduler": stack.log("scheduler"),
        "workers": "".join(
            p.read_text(errors="replace") for p in (stack.data_dir / "logs" / "workers").glob("*")
        ),
    }
    assert all(logs.values()), "every process wrote logs"
    assert '"request"' in logs["gateway"] or "request" in logs["gateway"]
    leaks = [
        f"{name} in {proc} log"
        for name, value in secrets_.items()
        for proc, text in logs.items()
        if value and value in text
    ]
    assert not leaks, leaks
    record(
        "security",
        check="secrets in logs",
        secrets=len(secrets_),
        log_bytes=sum(len(t) for t in logs.values()),
        leaks=0,
    )
