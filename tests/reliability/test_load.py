"""Sustained load on loopback: a mix of submits and status polls from concurrent clients,
with throughput, latency percentiles, errors, and the memory (RSS) of the gateway and the
scheduler sampled throughout.

Workers are replaced by a command that never finishes (``sleep``), one at a time: the
load measures the API path (gateway, scheduler, store), not the vectorizer's CPU time,
and every submitted job stays in the queue, which is the heaviest state for the store.
Afterwards every accepted submit must be in the store and, once cancelled, reach a final
state: none is lost under load.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tools.testing.reliability import FAST, png_bytes, record, rss_bytes
from tools.testing.stack import Stack, start_stack

CLIENTS = 12
SUBMIT_SHARE = 0.1


@pytest.fixture
def load_stack(tmp_path: Path) -> Iterator[Stack]:
    s = start_stack(
        tmp_path / ".data",
        env={
            "SUPERSVG_SCHEDULER_WORKER_COMMAND": "sleep 3600",
            "SUPERSVG_SCHEDULER_MAX_CONCURRENCY": "1",
            "SUPERSVG_SCHEDULER_MAX_QUEUE_SIZE": "1000000",
            "SUPERSVG_GATEWAY_RATE_LIMIT_PER_MINUTE": "0",
            "SUPERSVG_LOG_LEVEL": "WARNING",
        },
        tenants=(),
    )
    try:
        yield s
    finally:
        s.stop()


def _pct(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _drive(stack: Stack, token: str, seconds: float) -> dict[str, Any]:
    image = png_bytes(64)
    headers = {"Authorization": f"Bearer {token}"}
    lat: dict[str, list[float]] = {"submit": [], "status": []}
    errors: dict[str, int] = {}
    jobs: list[str] = []
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    async with httpx.AsyncClient(
        base_url=stack.base_url, timeout=30, limits=limits, headers=headers
    ) as c:
        r = await c.post(
            "/api/v1/vectorize/jobs",
            files={"image": ("a.png", image)},
            data={"config": json.dumps(FAST)},
        )
        assert r.status_code == 202, r.text
        jobs.append(r.json()["job_id"])
        end = time.monotonic() + seconds
        rng = random.Random(7)

        async def client() -> None:
            while time.monotonic() < end:
                kind = "submit" if rng.random() < SUBMIT_SHARE else "status"
                t0 = time.perf_counter()
                try:
                    if kind == "submit":
                        r = await c.post(
                            "/api/v1/vectorize/jobs",
                            files={"image": ("a.png", image)},
                            data={"config": json.dumps(FAST)},
                        )
                        ok = r.status_code == 202
                        if ok:
                            jobs.append(r.json()["job_id"])
                    else:
                        r = await c.get(f"/api/v1/vectorize/jobs/{rng.choice(jobs)}")
                        ok = r.status_code == 200
                    if not ok:
                        errors[f"{kind} {r.status_code}"] = (
                            errors.get(f"{kind} {r.status_code}", 0) + 1
                        )
                except httpx.HTTPError as exc:
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                lat[kind].append(time.perf_counter() - t0)

        started = time.monotonic()
        await asyncio.gather(*(client() for _ in range(CLIENTS)))
        elapsed = time.monotonic() - started
    return {"lat": lat, "errors": errors, "elapsed": elapsed, "jobs": jobs}


FINAL = {"completed", "failed", "cancelled", "expired"}


def _assert_every_job_stored_and_finished(stack: Stack, token: str, accepted: list[str]) -> None:
    """Every accepted job id is listed by the API (so it is in the store); cancelling each
    brings all of them to a final state (the queued ones at once, the running one once its
    worker is stopped)."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.base_url, timeout=30, headers=headers) as c:
        stored: set[str] = set()
        page = ""
        while True:
            r = c.get("/api/v1/vectorize/jobs", params={"page_size": 100, "page_token": page})
            assert r.status_code == 200, r.text
            stored |= {j["job_id"] for j in r.json()["jobs"]}
            page = r.json()["next_page_token"] or ""
            if not page:
                break
        missing = set(accepted) - stored
        assert not missing, f"{len(missing)} accepted jobs are not in the store"
        for job_id in accepted:
            r = c.post(f"/api/v1/vectorize/jobs/{job_id}/cancel")
            assert r.status_code in (200, 409), r.text  # 409: already final
        pending = set(accepted)
        deadline = time.monotonic() + 60
        while pending and time.monotonic() < deadline:
            for job_id in list(pending):
                if c.get(f"/api/v1/vectorize/jobs/{job_id}").json()["status"] in FINAL:
                    pending.discard(job_id)
            if pending:
                time.sleep(0.5)
        assert not pending, (
            f"{len(pending)} jobs never reached a final state: {sorted(pending)[:5]}"
        )


def _sampler(pids: dict[str, int], stop: threading.Event, out: dict[str, list[int]]) -> None:
    while not stop.is_set():
        for name, pid in pids.items():
            out.setdefault(name, []).append(rss_bytes(pid))
        stop.wait(0.5)


@pytest.mark.parametrize(
    "seconds", [pytest.param(15, id="15s"), pytest.param(60, id="60s", marks=pytest.mark.slow)]
)
def test_sustained_submit_and_poll_mix(load_stack: Stack, seconds: int) -> None:
    token = load_stack.new_token("load", max_active_jobs=10_000_000)
    embedded = load_stack.embedded
    assert embedded.gateway is not None and embedded.scheduler is not None
    pids = {"gateway": embedded.gateway.pid, "scheduler": embedded.scheduler.pid}
    # Warm-up: the first requests import lazily and fill caches; RSS is measured after it.
    warm = asyncio.run(_drive(load_stack, token, 2.0))
    samples: dict[str, list[int]] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_sampler, args=(pids, stop, samples))
    sampler.start()
    try:
        res = asyncio.run(_drive(load_stack, token, float(seconds)))
    finally:
        stop.set()
        sampler.join()
    all_lat = res["lat"]["submit"] + res["lat"]["status"]
    total = len(all_lat)
    n_err = sum(res["errors"].values())
    rate = total / res["elapsed"]
    rss = {}
    for name, values in samples.items():
        half = len(values) // 2
        rss[name] = {
            "start_mb": round(values[0] / 2**20, 1),
            "end_mb": round(values[-1] / 2**20, 1),
            "max_mb": round(max(values) / 2**20, 1),
            "growth_mb": round((values[-1] - values[0]) / 2**20, 1),
            # Growth in the second half: a leak keeps growing, a warm cache levels off.
            "second_half_growth_mb": round((values[-1] - values[half]) / 2**20, 1),
        }
    figures = {
        "seconds": round(res["elapsed"], 1),
        "clients": CLIENTS,
        "requests": total,
        "rate_per_s": round(rate, 1),
        "submits": len(res["lat"]["submit"]),
        "accepted_jobs": len(res["jobs"]),
        "polls": len(res["lat"]["status"]),
        "errors": n_err,
        "error_kinds": res["errors"],
        "latency_ms": {
            kind: {
                "p50": round(_pct(v, 0.50) * 1000, 1),
                "p95": round(_pct(v, 0.95) * 1000, 1),
                "p99": round(_pct(v, 0.99) * 1000, 1),
                "mean": round(statistics.fmean(v) * 1000, 1) if v else 0.0,
            }
            for kind, v in {**res["lat"], "all": all_lat}.items()
        },
        "rss": rss,
    }
    record("load", **figures)
    print(json.dumps(figures, indent=1))
    assert n_err == 0, res["errors"]
    assert rate >= 10, f"only {rate:.1f} requests/s"
    for name, r in rss.items():
        # Bounded: a few MB of allocator noise per half; a leak at this request rate
        # (thousands of requests) would show as steady growth well above it.
        assert r["second_half_growth_mb"] < 40, (name, r)
        assert r["growth_mb"] < 120, (name, r)
    # Every accepted submit is a job in the store and reaches a final state: none lost.
    _assert_every_job_stored_and_finished(load_stack, token, warm["jobs"] + res["jobs"])
