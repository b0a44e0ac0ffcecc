"""The whole life cycle over real HTTP: submit -> progress -> completed -> download the SVG
through the returned URL -> it parses and renders; signed links refuse tampering/expiry."""

from __future__ import annotations

import io
import time
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import httpx
import resvg_py
from PIL import Image

from supersvg.gateway.signing import sign_artifact
from tools.testing.service import assert_error, png_bytes, submit, wait_status
from tools.testing.stack import Stack


def test_job_life_cycle(stack: Stack, client: httpx.Client) -> None:
    r = submit(client, stack, {"max_paths": 24, "num_iterations": 5}, image=png_bytes(96))
    assert r.status_code == 202, r.text
    body = r.json()
    assert body["status"] == "queued"
    assert body["job_id"].startswith("job_") and len(body["job_id"]) == 30
    assert r.headers["location"] == f"/api/v1/vectorize/jobs/{body['job_id']}"
    job_id = body["job_id"]

    seen: set[str] = set()
    progress: list[int] = []
    deadline = time.monotonic() + 60
    status: dict = {}
    while time.monotonic() < deadline:
        status = client.get(
            f"{stack.base_url}/api/v1/vectorize/jobs/{job_id}", headers=stack.headers()
        ).json()
        seen.add(status["status"])
        progress.append(status["progress"])
        if status["status"] in ("completed", "failed"):
            break
        time.sleep(0.1)
    assert status["status"] == "completed", status
    assert "running" in seen
    assert progress == sorted(progress), "progress never goes back"
    assert status["progress"] == 100
    assert status["started_at"] and status["finished_at"] and status["error"] is None

    res = client.get(
        f"{stack.base_url}/api/v1/vectorize/jobs/{job_id}/result", headers=stack.headers()
    )
    assert res.status_code == 200, res.text
    result = res.json()["result"]
    assert 1 <= result["metrics"]["num_paths"] <= 24
    assert result["metrics"]["svg_bytes"] > 0

    svg = client.get(result["svg_url"])  # no credentials: the link itself is the grant
    assert svg.status_code == 200
    assert svg.headers["content-type"].startswith("image/svg+xml")
    root = ET.fromstring(svg.content)
    assert root.tag.endswith("svg")
    assert (
        len(root.findall(".//{http://www.w3.org/2000/svg}path")) == result["metrics"]["num_paths"]
    )
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg.text))
    rendered = Image.open(io.BytesIO(png))
    assert rendered.size[0] > 0 and rendered.size[1] > 0

    preview = client.get(result["preview_png_url"])
    assert preview.status_code == 200
    assert Image.open(io.BytesIO(preview.content)).size == (96, 96)


def test_signed_links_refuse_tampering_and_expiry(stack: Stack, client: httpx.Client) -> None:
    r = submit(client, stack)
    job_id = r.json()["job_id"]
    wait_status(client, stack, job_id, ("completed",))
    url = client.get(
        f"{stack.base_url}/api/v1/vectorize/jobs/{job_id}/result", headers=stack.headers()
    ).json()["result"]["svg_url"]
    parts = urlsplit(url)
    q = {k: v[0] for k, v in parse_qs(parts.query).items()}
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    sig = q["signature"]
    bad_sig = ("A" if sig[0] != "A" else "B") + sig[1:]
    assert_error(
        client.get(base, params={"expires": q["expires"], "signature": bad_sig}),
        403,
        "INVALID_SIGNATURE",
    )
    # A longer lifetime with the old signature is a forgery too.
    assert_error(
        client.get(base, params={"expires": int(q["expires"]) + 10, "signature": sig}),
        403,
        "INVALID_SIGNATURE",
    )
    # Another job's file under this job's signature.
    other = base.replace("output.svg", "preview.png")
    assert_error(client.get(other, params=q), 403, "INVALID_SIGNATURE")
    # A correctly signed but expired link (signed with the stack's key).
    key = f"jobs/{job_id}/output.svg"
    past = int(time.time()) - 5
    expired_sig = sign_artifact(stack.signing_key.encode(), key, past)
    err = assert_error(
        client.get(base, params={"expires": past, "signature": expired_sig}),
        403,
        "INVALID_SIGNATURE",
    )
    assert "expired" in err["message"]
    assert client.get(url).status_code == 200


def test_health_openapi_docs_and_page(stack: Stack, client: httpx.Client) -> None:
    h = client.get(f"{stack.base_url}/api/v1/health")
    assert h.json() == {"status": "ok", "version": "1.0.0"}
    assert client.get(f"{stack.base_url}/healthz").status_code == 200
    assert client.get(f"{stack.base_url}/readyz").json() == {"status": "ready"}
    spec = client.get(f"{stack.base_url}/api/v1/openapi.json").json()
    for path in (
        "/api/v1/health",
        "/api/v1/vectorize/jobs",
        "/api/v1/vectorize/jobs/{job_id}",
        "/api/v1/vectorize/jobs/{job_id}/result",
        "/api/v1/vectorize/jobs/{job_id}/cancel",
    ):
        assert path in spec["paths"], path
    assert (
        "multipart/form-data"
        in spec["paths"]["/api/v1/vectorize/jobs"]["post"]["requestBody"]["content"]
    )
    assert client.get(f"{stack.base_url}/api/v1/docs").status_code == 200
    page = client.get(f"{stack.base_url}/")
    assert page.status_code == 200 and "<html" in page.text.lower()


def test_request_id_is_echoed_or_generated(stack: Stack, client: httpx.Client) -> None:
    r = client.get(f"{stack.base_url}/api/v1/health", headers={"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"
    r2 = client.get(f"{stack.base_url}/api/v1/nothing-here")
    assert len(r2.headers["x-request-id"]) == 32
    # An unsafe id (header injection, overlong) is replaced, not echoed.
    r3 = client.get(f"{stack.base_url}/api/v1/health", headers={"X-Request-Id": "x" * 300})
    assert r3.headers["x-request-id"] != "x" * 300
