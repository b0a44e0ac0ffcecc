"""The Python client and CLI against the real embedded stack on loopback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from supersvg.client import (
    AsyncClient,
    Client,
    Conflict,
    Job,
    NotFound,
    Unauthenticated,
)
from tools.testing.images import shapes_png

pytestmark = pytest.mark.timeout(300)

SVG_NS = "{http://www.w3.org/2000/svg}"
FAST = {"max_paths": 16, "num_iterations": 5}


def test_health(stack: Any) -> None:
    with Client(stack.base_url, stack.token) as api:
        health = api.health()
    assert health["status"] == "ok" and health["version"]


def test_submit_wait_with_progress_and_download(stack: Any, tmp_path: Path) -> None:
    image = shapes_png(tmp_path / "shapes.png", 64, 48)
    seen: list[Job] = []
    with Client(stack.base_url, stack.token) as api:
        job = api.submit(image, **FAST)
        assert job.job_id.startswith("job_") and job.status == "queued"
        assert job.created_at is not None
        final = api.wait(job.job_id, timeout=240, on_progress=seen.append, poll_interval=0.1)
        assert final.status == "completed", final
        assert final.started_at is not None and final.finished_at is not None
        assert final.finished_at >= final.started_at >= final.created_at  # type: ignore[operator]
        # on_progress saw the job move, in order, and only on changes
        assert seen[0].status in ("queued", "running")
        assert seen[-1].status == "completed" and seen[-1].progress == 100
        progress = [j.progress for j in seen]
        assert progress == sorted(progress)
        assert len({(j.status, j.progress, j.stage) for j in seen}) == len(seen)
        assert any(j.stage for j in seen)  # the worker's stages came through

        res = api.result(job.job_id)
        assert 1 <= res.metrics["num_paths"] <= FAST["max_paths"]
        out = api.download_svg(job.job_id, tmp_path / "out" / "shapes.svg")
        root = ET.fromstring(out.read_bytes())
        assert root.tag == f"{SVG_NS}svg"
        assert len(root.findall(f".//{SVG_NS}path")) == res.metrics["num_paths"]
        preview = api.download_preview(job.job_id, tmp_path / "preview.png")
        from PIL import Image

        with Image.open(preview) as png:
            assert png.size == (64, 48)


def test_cancel_a_job(stack: Any, tmp_path: Path) -> None:
    image = shapes_png(tmp_path / "big.png", 160, 160)
    with Client(stack.base_url, stack.token) as api:
        # Many iterations keep the job busy long enough to cancel it while queued or running.
        job = api.submit(image, max_paths=64, num_iterations=5000)
        cancelling = api.cancel(job.job_id)
        assert cancelling.job_id == job.job_id
        assert cancelling.status in ("cancelling", "cancelled")
        final = api.wait(job.job_id, timeout=60, poll_interval=0.1)
        assert final.status == "cancelled"
        with pytest.raises(Conflict) as info:
            api.result(job.job_id)
        assert info.value.status == 409 and info.value.request_id


def test_list_iterates_over_pages(stack: Any, tmp_path: Path) -> None:
    image = shapes_png(tmp_path / "s.png", 32, 32)
    with Client(stack.base_url, stack.token) as api:
        ids = [api.submit(image, max_paths=4, num_iterations=0).job_id for _ in range(3)]
        first_page, token = api.list_page(page_size=2)
        assert len(first_page) == 2 and token
        listed = [job.job_id for job in api.list(page_size=2)]
        assert set(ids) <= set(listed)
        assert len(listed) == len(set(listed))  # no job twice across pages
        # newest first: the three just submitted lead the list, latest on top
        assert listed[:3] == ids[::-1]
        assert [j.job_id for j in api.list(page_size=2, limit=3)] == ids[::-1]
        for job_id in ids:
            api.wait(job_id, timeout=120, poll_interval=0.2)


def test_async_client_same_flow(stack: Any, tmp_path: Path) -> None:
    image = shapes_png(tmp_path / "a.png", 48, 48)

    async def flow() -> tuple[Job, Path, list[str]]:
        updates: list[str] = []

        async def note(job: Job) -> None:
            updates.append(job.status)

        async with AsyncClient(stack.base_url, stack.token) as api:
            job = await api.submit(image.read_bytes(), **FAST, filename="a.png")
            final = await api.wait(job.job_id, timeout=240, on_progress=note, poll_interval=0.1)
            path = await api.download_svg(job.job_id, tmp_path / "a.svg")
            listed = [j.job_id async for j in api.list(page_size=5, limit=5)]
            assert job.job_id in listed
            return final, path, updates

    final, path, updates = asyncio.run(flow())
    assert final.status == "completed" and updates[-1] == "completed"
    assert ET.fromstring(path.read_bytes()).tag == f"{SVG_NS}svg"


def test_typed_errors_from_the_real_service(stack: Any, tmp_path: Path) -> None:
    with Client(stack.base_url, "not-a-token") as api, pytest.raises(Unauthenticated) as info:
        api.get("job_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert info.value.status == 401 and info.value.request_id in str(info.value)
    with Client(stack.base_url, stack.token) as api, pytest.raises(NotFound) as nf:
        api.get("job_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert nf.value.code and nf.value.message


def _cli(stack: Any, *args: str, console_script: bool = False) -> subprocess.CompletedProcess[str]:
    """Run ``supersvg remote ...`` (the console script) or ``python -m supersvg.client ...``
    (the same command without the vectorizer's start-up cost)."""
    env = {**os.environ, "SUPERSVG_URL": stack.base_url, "SUPERSVG_TOKEN": stack.token}
    if console_script:
        argv = [str(Path(sys.executable).with_name("supersvg")), "remote", *args]
    else:
        argv = [sys.executable, "-m", "supersvg.client", *args]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=240, check=False)


def test_cli_submit_wait_status_list(stack: Any, tmp_path: Path) -> None:
    image = shapes_png(tmp_path / "c.png", 40, 40)
    out = tmp_path / "c.svg"
    argv = ["submit", str(image), "--max-paths", "8", "--iterations", "3", "--wait", "-o", str(out)]
    done = _cli(stack, *argv, console_script=True)
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.split()[0]
    assert job_id.startswith("job_") and "completed" in done.stdout
    assert "100%" in done.stderr  # progress lines (stderr is not a terminal here)
    assert ET.fromstring(out.read_bytes()).tag == f"{SVG_NS}svg"
    status = _cli(stack, "status", job_id)
    assert status.returncode == 0 and status.stdout.split()[:2] == [job_id, "completed"]
    listing = _cli(stack, "list", "--limit", "5")
    assert listing.returncode == 0 and job_id in listing.stdout
    missing = _cli(stack, "status", "job_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert missing.returncode == 1 and "404" in missing.stderr and "request_id=" in missing.stderr


def test_wait_timeout_carries_last_job(stack: Any, tmp_path: Path) -> None:
    from supersvg.client import WaitTimeout

    image = shapes_png(tmp_path / "t.png", 96, 96)
    with Client(stack.base_url, stack.token) as api:
        job = api.submit(image, max_paths=32, num_iterations=5000)
        start = time.monotonic()
        with pytest.raises(WaitTimeout) as info:
            api.wait(job.job_id, timeout=0.5, poll_interval=0.1)
        assert time.monotonic() - start < 5
        assert info.value.job is not None and info.value.job.job_id == job.job_id
        api.cancel(job.job_id)
        api.wait(job.job_id, timeout=60)
