"""Scheduler failover on PostgreSQL: two replicas under load, the leader SIGKILLed mid-run.

    .venv/bin/python benchmarks/ha_failover.py                 # 40 jobs, lease 3 s
    .venv/bin/python benchmarks/ha_failover.py --jobs 80 --lease 15

Real processes: two ``supersvg-scheduler`` replicas (local executor, the real worker, one
PostgreSQL database, advisory-lock election) and a webhook receiver. Half the jobs are
submitted round-robin to both replicas; once the leader has attempts running and some
jobs done, it is SIGKILLed; the rest are submitted to the survivor while it takes over;
a new replica then joins (as a follower). Writes ``benchmarks/results/ha_failover.json``
and ``.md``: takeover time against the lease, jobs lost, duplicated, double callbacks,
and the machine's load. Needs PostgreSQL (``SUPERSVG_TEST_PG``, default 127.0.0.1:5432).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.machine_info import cpu_model  # noqa: E402
from tools.testing.ha import HaCluster  # noqa: E402
from tools.testing.servers import PG_ADMIN_DSN, pg_admin  # noqa: E402

OUT = ROOT / "benchmarks" / "results"


def run(jobs: int, lease: float, concurrency: int, workdir: Path) -> dict[str, Any]:
    name = f"supersvg_ha_{uuid.uuid4().hex[:10]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    dsn = f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    cluster = HaCluster(workdir, dsn, replicas=2, lease_seconds=lease, concurrency=concurrency)
    load_before = os.getloadavg()
    try:
        cluster.start()
        first = cluster.wait_leader()
        cluster.submit(jobs // 2)
        # Mid-run: attempts running on the leader and some jobs already done.
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            rows = cluster.rows()
            done = sum(r.get("state") == "completed" for r in rows)
            running = sum(r.get("state") == "running" for r in rows)
            if done >= max(2, jobs // 10) and running > 0:
                break
            time.sleep(0.2)
        state_at_kill = {
            s: sum(r.get("state") == s for r in cluster.rows())
            for s in ("queued", "running", "completed")
        }
        killed_at = cluster.kill(first)
        survivor = next(r for r in cluster.members if r.alive)
        cluster.submit(jobs - jobs // 2)  # load continues on the survivor during takeover
        takeover_deadline = time.monotonic() + 10 * lease + 30
        while not survivor.leading() and time.monotonic() < takeover_deadline:
            time.sleep(0.02)
        takeover_s = time.monotonic() - killed_at
        new_leader = cluster.leader()
        joined = cluster.start_replica("scheduler-2")  # the killed one, restarted
        rows = cluster.wait_done(timeout=900)
        time.sleep(2 * lease)  # the replica that joined must still be a follower
        summary = cluster.summary(rows)
        result: dict[str, Any] = {
            "jobs": jobs,
            "lease_seconds": lease,
            "worker_concurrency": concurrency,
            "state_at_kill": state_at_kill,
            "takeover_seconds": round(takeover_s, 3),
            "takeover_within_lease": takeover_s <= lease,
            "new_leader_is_survivor": new_leader is survivor,
            "rejoined_replica_leads": joined.leading(),
            "leaders_at_end": sum(r.alive and r.leading() for r in cluster.members),
            **summary,
        }
    finally:
        cluster.stop()
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    result["machine"] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "load_before": [round(x, 2) for x in load_before],
        "load_after": [round(x, 2) for x in os.getloadavg()],
    }
    return result


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    rows = [
        ("jobs submitted (refused)", f"{r['jobs_submitted']} ({r['jobs_refused']})"),
        ("state when the leader was killed", json.dumps(r["state_at_kill"])),
        ("takeover after SIGKILL", f"{r['takeover_seconds']} s (lease {r['lease_seconds']} s)"),
        ("takeover within the lease", str(r["takeover_within_lease"])),
        ("jobs completed", str(r["jobs_completed"])),
        ("jobs lost", str(r["jobs_lost"])),
        ("jobs failed", str(r["jobs_failed"])),
        ("jobs duplicated", str(r["jobs_duplicated"])),
        ("jobs run again after the failover", str(r["jobs_retried_after_failover"])),
        ("callback events per job (max)", str(r["callback_events_per_job_max"])),
        ("jobs without a callback", str(r["jobs_without_callback"])),
        ("double callbacks received", str(r["double_callbacks"])),
        ("callback events per job received (max)", str(r.get("callback_ids_per_job_max", "-"))),
        ("restarted replica leads", str(r["rejoined_replica_leads"])),
        ("leaders at the end", str(r["leaders_at_end"])),
    ]
    lines = [
        "# Scheduler failover (benchmarks/ha_failover.py)",
        "",
        "Two scheduler replicas on one PostgreSQL database (local executor, real workers, "
        f"{r['worker_concurrency']} at once), leader SIGKILLed mid-run; jobs submitted to both "
        "replicas before and to the survivor during the takeover.",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in rows),
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, Python {m['python']}; load average "
        f"{m['load_before']} before, {m['load_after']} after.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--jobs", type=int, default=40)
    p.add_argument("--lease", type=float, default=3.0, help="leader lease in seconds")
    p.add_argument("--concurrency", type=int, default=2, help="worker processes per leader")
    p.add_argument("--out", type=Path, default=OUT / "ha_failover")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="ha-failover-") as tmp:
        result = run(args.jobs, args.lease, args.concurrency, Path(tmp))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(render(result))
    print(render(result))
    ok = (
        result["jobs_lost"] == 0
        and result["jobs_duplicated"] == 0
        and result["callback_ids_per_job_max"] == 1
        and result["takeover_within_lease"]
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
