"""REST API latency under load, against the embedded stack on loopback.

Starts the embedded stack (gateway + scheduler + local workers, SQLite, local artifacts),
then measures:

- status (``GET /api/v1/vectorize/jobs/{id}``) at a fixed arrival rate (open loop: each
  request is sent at its scheduled time whether or not earlier ones have answered, so a
  slow server cannot slow the load down and hide its own latency); latency is reported
  from the scheduled send time (what a client experiences) and from the actual send;
- submit (``POST /api/v1/vectorize/jobs``, a small PNG) with 1, 8, 32, 64 clients each
  sending back to back (closed loop), and the throughput reached.

Jobs created by the submit phase are cancelled as the phase ends so that the worker
processes do not load the machine during the next measurement.

    python benchmarks/api_bench.py --out benchmarks/results [--rate 200 --duration 10]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import io
import json
import os
import platform
import shutil
import statistics
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from machine_info import cpu_model

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # the stack launcher lives in tools/testing


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary_ms(samples: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000.0 for s in samples]
    if not ms:
        return {"n": 0}
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
        "max_ms": round(max(ms), 3),
    }


#: Server processes whose CPU time each phase records (name -> pid); set when we start them.
SERVER_PIDS: dict[str, int] = {}
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds() -> dict[str, float]:
    """CPU time (user + system) so far of this client and of each server process."""
    t = os.times()
    out = {"client": t.user + t.system}
    for name, pid in SERVER_PIDS.items():
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            out[name] = (int(fields[11]) + int(fields[12])) / _CLK_TCK  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return out


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU jiffies of the whole machine so far, from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0, 0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


@dataclass
class Phase:
    name: str
    params: dict[str, Any]
    latency_from_schedule: list[float] = field(default_factory=list)
    latency_from_send: list[float] = field(default_factory=list)
    #: (seconds since the phase began, latency) of each request, for the per-second view.
    timeline: list[tuple[float, float]] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    wall_s: float = 0.0
    loadavg_before: tuple[float, float, float] = (0.0, 0.0, 0.0)
    loadavg_after: tuple[float, float, float] = (0.0, 0.0, 0.0)
    cpu_before: dict[str, float] = field(default_factory=dict)
    cpu_after: dict[str, float] = field(default_factory=dict)

    jiffies_before: tuple[int, int] = (0, 0)
    machine_busy: float | None = None

    def begin(self) -> None:
        self.loadavg_before = os.getloadavg()
        self.cpu_before = cpu_seconds()
        self.jiffies_before = machine_jiffies()

    def end(self, wall_s: float) -> None:
        self.wall_s = wall_s
        self.loadavg_after = os.getloadavg()
        self.cpu_after = cpu_seconds()
        busy, total = machine_jiffies()
        if total > self.jiffies_before[1]:
            share = (busy - self.jiffies_before[0]) / (total - self.jiffies_before[1])
            self.machine_busy = round(share, 3)

    def count(self, status: int | str) -> None:
        key = str(status)
        self.statuses[key] = self.statuses.get(key, 0) + 1

    def report(self) -> dict[str, Any]:
        ok = self.statuses.get("200", 0) + self.statuses.get("202", 0)
        out: dict[str, Any] = {
            "name": self.name,
            **self.params,
            "requests": sum(self.statuses.values()),
            "statuses": dict(sorted(self.statuses.items())),
            "wall_s": round(self.wall_s, 3),
            "throughput_rps": round(ok / self.wall_s, 1) if self.wall_s else 0.0,
            "latency": summary_ms(self.latency_from_send),
            "loadavg_before": [round(x, 2) for x in self.loadavg_before],
            "loadavg_after": [round(x, 2) for x in self.loadavg_after],
            # Fraction of all CPUs busy during the phase, whoever used them.
            "machine_cpu_busy": self.machine_busy,
            # Share of one CPU each process used during the phase (2.0 = two cores busy).
            "cpu_share": {
                k: round((self.cpu_after[k] - v) / self.wall_s, 2)
                for k, v in self.cpu_before.items()
                if k in self.cpu_after and self.wall_s
            },
        }
        if self.latency_from_schedule:
            out["latency_from_schedule"] = summary_ms(self.latency_from_schedule)
        if self.timeline:
            # P95 per one-second window: shows whether a tail comes from a few stalls
            # (e.g. the server starved of CPU for a moment) or from steady overload.
            windows: dict[int, list[float]] = {}
            for offset, latency in self.timeline:
                windows.setdefault(int(offset), []).append(latency * 1000.0)
            out["p95_ms_per_second"] = [
                round(percentile(windows[k], 95), 1) for k in sorted(windows)
            ]
        return out


def small_png(size: int = 32) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), (245, 245, 240))
    ImageDraw.Draw(img).ellipse((4, 4, size - 6, size - 6), fill=(200, 40, 40))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def submit_form(image: bytes, config: str) -> aiohttp.FormData:
    form = aiohttp.FormData()
    form.add_field("image", image, filename="bench.png", content_type="image/png")
    form.add_field("config", config)
    return form


async def status_at_rate(
    http: aiohttp.ClientSession, url: str, headers: dict[str, str], rate: float, duration: float
) -> Phase:
    """Open loop: request i is sent at t0 + i/rate."""
    phase = Phase("status", {"rate_rps": rate, "duration_s": duration})
    total = int(rate * duration)
    loop = asyncio.get_running_loop()

    async def one(scheduled: float) -> None:
        sent = loop.time()
        try:
            async with http.get(url, headers=headers) as resp:
                await resp.read()
                phase.count(resp.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            phase.count(type(exc).__name__)
            return
        done = loop.time()
        phase.latency_from_send.append(done - sent)
        phase.latency_from_schedule.append(done - scheduled)
        phase.timeline.append((scheduled - t0, done - sent))

    phase.begin()
    t0 = loop.time() + 0.05
    start = time.perf_counter()
    # Each request is created when it is due (not all up front: thousands of sleeping tasks
    # make the load generator itself slow), and the collector is off while measuring so
    # that its pauses are not counted as server latency.
    tasks: set[asyncio.Task[None]] = set()
    gc.collect()
    gc.disable()
    try:
        for i in range(total):
            scheduled = t0 + i / rate
            delay = scheduled - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            task = asyncio.create_task(one(scheduled))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(tasks)
    finally:
        gc.enable()
    phase.end(time.perf_counter() - start)
    return phase


async def submit_closed_loop(
    http: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    *,
    concurrency: int,
    requests: int,
    image: bytes,
    config: dict[str, Any],
) -> tuple[Phase, list[str]]:
    """``concurrency`` clients, each submitting back to back until ``requests`` are sent."""
    phase = Phase("submit", {"concurrency": concurrency, "requests_planned": requests})
    url = f"{base}/api/v1/vectorize/jobs"
    remaining = requests
    job_ids: list[str] = []
    cfg = json.dumps(config)

    async def client() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            sent = time.perf_counter()
            try:
                async with http.post(
                    url,
                    headers={**headers, "Idempotency-Key": os.urandom(16).hex()},
                    data=submit_form(image, cfg),
                ) as resp:
                    body = await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                phase.count(type(exc).__name__)
                continue
            phase.latency_from_send.append(time.perf_counter() - sent)
            phase.count(status)
            if status == 202:
                job_ids.append(json.loads(body)["job_id"])

    phase.begin()
    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    phase.end(time.perf_counter() - start)
    return phase, job_ids


async def cancel_all(
    http: aiohttp.ClientSession, base: str, headers: dict[str, str], job_ids: Sequence[str]
) -> None:
    sem = asyncio.Semaphore(8)

    async def one(job_id: str) -> None:
        async with sem:
            # Best effort: a job that already ended cannot be cancelled.
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                url = f"{base}/api/v1/vectorize/jobs/{job_id}/cancel"
                async with http.post(url, headers=headers) as resp:
                    await resp.read()

    await asyncio.gather(*(one(j) for j in job_ids))


async def wait_idle(
    http: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    ids: Sequence[str],
    limit_s: float,
) -> None:
    """Wait until the given jobs are all final, so workers stop using the CPU."""
    deadline = time.monotonic() + limit_s
    pending = list(ids)
    while pending and time.monotonic() < deadline:
        still = []
        for job_id in pending:
            async with http.get(f"{base}/api/v1/vectorize/jobs/{job_id}", headers=headers) as r:
                status = r.status
                body = await r.json() if status == 200 else {}
            if status == 200 and body["status"] not in (
                "completed",
                "failed",
                "cancelled",
                "expired",
            ):
                still.append(job_id)
        pending = still
        if pending:
            await asyncio.sleep(0.5)


def machine() -> dict[str, Any]:
    cpu = cpu_model()
    mem_gb = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                mem_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "memory_gb": mem_gb,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "load_generator": f"aiohttp {aiohttp.__version__}",
    }


def _cpu(phase: dict[str, Any]) -> str:
    share = phase.get("cpu_share", {})
    keys = ("client", "gateway", "scheduler")
    return " / ".join(f"{share[k]:.2f}" if k in share else "-" for k in keys)


def _busy(phase: dict[str, Any]) -> str:
    busy = phase.get("machine_cpu_busy")
    return "-" if busy is None else f"{busy:.0%}"


def write_markdown(path: Path, report: dict[str, Any]) -> None:
    m = report["machine"]
    title = "# REST API latency on loopback (embedded stack)"
    if report.get("nice"):
        title += f", benchmark processes at nice {report['nice']} (ahead of other work)"
    lines = [
        title,
        "",
        f"Measured {report['when']} on {m['cpu']} ({m['cpus']} CPUs, {m['memory_gb']} GB), "
        f"{m['platform']}, Python {m['python']}. Client and server share the machine. "
        f"Load average (1/5/15 min) at start {report['loadavg_start']}, "
        f"at end {report['loadavg_end']}.",
        "",
        "Stack: " + report["stack"],
        "",
        "## Status (`GET /api/v1/vectorize/jobs/{id}`), open loop at a fixed rate",
        "",
        "| rate (req/s) | requests | non-200 | P50 ms | P95 ms | P99 ms | max ms | "
        "P95 from schedule ms | 1-s windows over target | worst 1-s P95 ms | "
        "load avg (1 min) | machine CPU busy | CPU client/gateway/scheduler |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for ph in report["status"]:
        lat, sch = ph["latency"], ph["latency_from_schedule"]
        bad = ph["requests"] - ph["statuses"].get("200", 0)
        windows = ph.get("p95_ms_per_second", [])
        over = sum(1 for w in windows if w >= report["target"]["status_p95_ms"])
        lines.append(
            f"| {ph['rate_rps']:g} | {ph['requests']} | {bad} | {lat['p50_ms']} | "
            f"{lat['p95_ms']} | {lat['p99_ms']} | {lat['max_ms']} | {sch['p95_ms']} | "
            f"{over}/{len(windows)} | {max(windows, default=0)} | "
            f"{ph['loadavg_after'][0]} | {_busy(ph)} | {_cpu(ph)} |"
        )
    target = report["target"]
    lines += [
        "",
        f"Target: P95 of status under {target['status_p95_ms']} ms at "
        f"{target['rate_rps']:g} req/s: **{'met' if target['met'] else 'NOT met'}** "
        f"(P95 {target['measured_p95_ms']} ms from send, "
        f"{target['measured_p95_from_schedule_ms']} ms from schedule).",
        "",
        "## Submit (`POST /api/v1/vectorize/jobs`, 32x32 PNG), closed loop",
        "",
        "| clients | requests | 202 | other | P50 ms | P95 ms | P99 ms | max ms | "
        "accepted/s | load avg (1 min) | machine CPU busy | CPU client/gateway/scheduler |",
        "|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for ph in report["submit"]:
        lat = ph["latency"]
        other = ", ".join(f"{k}: {v}" for k, v in ph["statuses"].items() if k != "202") or "-"
        lines.append(
            f"| {ph['concurrency']} | {ph['requests']} | {ph['statuses'].get('202', 0)} | "
            f"{other} | {lat.get('p50_ms', '-')} | {lat.get('p95_ms', '-')} | "
            f"{lat.get('p99_ms', '-')} | {lat.get('max_ms', '-')} | {ph['throughput_rps']} | "
            f"{ph['loadavg_after'][0]} | {_busy(ph)} | {_cpu(ph)} |"
        )
    lines += [
        "",
        "Latency is measured by the client (aiohttp, asyncio, keep-alive connections). "
        '"From schedule" adds the time a request waited behind the client\'s own backlog. '
        "CPU: the share of one core each process used during the phase (client = this "
        "load generator); machine CPU busy: all cores, whoever used them (other work on a "
        "shared machine shows here). 1-s windows: the status phase cut into seconds, each "
        "with its own P95, to tell brief stalls from steady overload.",
        "",
    ]
    path.write_text("\n".join(lines))


async def run_bench(
    args: argparse.Namespace, base: str, token: str, stack_desc: str
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}
    report: dict[str, Any] = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "stack": stack_desc,
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
        "nice": os.nice(0),
        "status": [],
        "submit": [],
    }
    image = small_png()
    config = {"max_paths": 8, "num_iterations": 0}
    # Idle connections are dropped before uvicorn's 5 s keep-alive timeout would close them
    # under a request (a reset that would be counted against the server).
    connector = aiohttp.TCPConnector(limit=args.connections, keepalive_timeout=3)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:
        # One finished job to query, so the status phase reads a real row.
        async with http.post(
            f"{base}/api/v1/vectorize/jobs",
            headers=headers,
            data=submit_form(image, json.dumps(config)),
        ) as first:
            if first.status != 202:
                raise SystemExit(f"submit answered {first.status}: {await first.text()}")
            job_id = (await first.json())["job_id"]
        await wait_idle(http, base, headers, [job_id], 300)
        status_url = f"{base}/api/v1/vectorize/jobs/{job_id}"
        # Warm-up: connections, caches, the database's pages.
        await status_at_rate(http, status_url, headers, 100, 2)
        for rate in args.rates:
            await asyncio.sleep(args.settle)
            phase = await status_at_rate(http, status_url, headers, rate, args.duration)
            report["status"].append(phase.report())
            print(json.dumps(report["status"][-1]), file=sys.stderr)
        for conc in args.concurrency:
            await asyncio.sleep(args.settle)
            n = max(args.submit_requests, 2 * conc)
            phase, ids = await submit_closed_loop(
                http, base, headers, concurrency=conc, requests=n, image=image, config=config
            )
            report["submit"].append(phase.report())
            print(json.dumps(report["submit"][-1]), file=sys.stderr)
            await cancel_all(http, base, headers, ids)
            await wait_idle(http, base, headers, ids, 120)
    at_target = next(
        (p for p in report["status"] if p["rate_rps"] == args.target_rate), report["status"][0]
    )
    report["target"] = {
        "rate_rps": at_target["rate_rps"],
        "status_p95_ms": args.target_p95_ms,
        "measured_p95_ms": at_target["latency"]["p95_ms"],
        "measured_p95_from_schedule_ms": at_target["latency_from_schedule"]["p95_ms"],
        "met": at_target["latency"]["p95_ms"] < args.target_p95_ms,
    }
    report["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--rates", type=float, nargs="+", default=[50, 200, 400])
    parser.add_argument("--target-rate", type=float, default=200)
    parser.add_argument("--target-p95-ms", type=float, default=20.0)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per status rate")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--submit-requests", type=int, default=64, help="submits per level")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--workers", type=int, default=1, help="local worker processes")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="run client and servers at this niceness (negative: ahead of other work on a "
        "shared machine; needs root)",
    )
    parser.add_argument("--name", default="api", help="result files: NAME.json, NAME.md")
    parser.add_argument("--url", help="benchmark this running server instead of starting one")
    parser.add_argument("--token", default=os.environ.get("SUPERSVG_TOKEN"))
    parser.add_argument("--settle", type=float, default=2.0, help="pause between phases (s)")
    args = parser.parse_args(argv)
    if args.target_rate not in args.rates:
        args.rates.append(args.target_rate)

    report = start_and_run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps(report, indent=2) + "\n")
    write_markdown(args.out / f"{args.name}.md", report)
    t = report["target"]
    print(
        f"status P95 {t['measured_p95_ms']} ms at {t['rate_rps']:g} req/s "
        f"(target < {t['status_p95_ms']} ms: {'met' if t['met'] else 'NOT met'}); "
        f"wrote {args.out / (args.name + '.json')} and {args.out / (args.name + '.md')}"
    )
    return 0


def _autogroup_nice() -> int | None:
    try:
        return int(Path("/proc/self/autogroup").read_text().split()[-1])
    except (OSError, ValueError, IndexError):
        return None


def _autogroup() -> str:
    try:
        return Path("/proc/self/autogroup").read_text().strip()
    except OSError:
        return "no autogroup"


def start_and_run(args: argparse.Namespace) -> dict[str, Any]:
    if args.url:
        if not args.token:
            raise SystemExit("--url needs --token (or SUPERSVG_TOKEN)")
        desc = f"an already running server at {args.url}"
        return asyncio.run(run_bench(args, args.url.rstrip("/"), args.token, desc))

    from tools.testing.stack import start_stack

    env = {
        "SUPERSVG_SCHEDULER_MAX_CONCURRENCY": str(args.workers),
        "SUPERSVG_SCHEDULER_MAX_QUEUE_SIZE": "100000",
        "SUPERSVG_LOG_LEVEL": "WARNING",
    }
    restore_group_nice: int | None = None
    if args.nice:
        # The servers inherit this priority; workers are put back to the normal one, as
        # vectorizing is not what this benchmark measures.
        os.nice(args.nice)
        # With autogroup scheduling (Linux desktops and many VMs) niceness only ranks
        # processes within one session; the session's own niceness ranks it against others.
        # The group outlives this process: its niceness is put back when the run ends.
        restore_group_nice = _autogroup_nice()
        with contextlib.suppress(OSError):
            Path("/proc/self/autogroup").write_text(str(args.nice))
        if args.nice < 0:
            worker = f"nice -n {-args.nice} {sys.executable} -m supersvg.worker"
            env["SUPERSVG_SCHEDULER_WORKER_COMMAND"] = worker
    try:
        return _run_embedded(args, env, start_stack)
    finally:
        if restore_group_nice is not None:
            with contextlib.suppress(OSError):
                Path("/proc/self/autogroup").write_text(str(restore_group_nice))


def _run_embedded(
    args: argparse.Namespace, env: dict[str, str], start_stack: Any
) -> dict[str, Any]:
    data_dir = ROOT / "benchmarks" / ".work" / "api-stack"
    if data_dir.exists():
        shutil.rmtree(data_dir)
    stack = start_stack(data_dir, tenants=(), env=env)
    try:
        # A tenant whose limits do not cut the load short: this measures latency, not quotas.
        SERVER_PIDS.update(
            {
                name: proc.pid
                for name, proc in (
                    ("gateway", stack.embedded.gateway),
                    ("scheduler", stack.embedded.scheduler),
                )
                if proc is not None
            }
        )
        token = stack.new_token("bench", rate_limit=10_000_000, max_active_jobs=1_000_000)
        desc = (
            "embedded mode (tools/run_embedded.py via tools/testing/stack.py): gateway "
            "(uvicorn, 1 process) + scheduler (gRPC) + SQLite + local artifact folder, "
            f"{args.workers} local worker process(es) at most; tenant rate limit off; "
            f"client and servers at nice {os.nice(0)} ({_autogroup()})"
        )
        return asyncio.run(run_bench(args, stack.base_url, token, desc))
    finally:
        stack.stop()


if __name__ == "__main__":
    raise SystemExit(main())
