"""Two scheduler replicas on PostgreSQL, the leader SIGKILLed mid-run (real processes; the
figures for more jobs come from benchmarks/ha_failover.py).

Checks: exactly one leader at a time; the survivor leads within the lease; every job
completes once (none lost, none duplicated); one callback event per job, received; an
event received twice only if its job had ended before the kill (delivery is at least
once: the killed leader may have posted a callback it could not record as delivered;
the receiver deduplicates by webhook-id); followers accept submits; a restarted replica
joins as a follower.
"""

from __future__ import annotations

import time
from pathlib import Path

from tools.testing.ha import HaCluster

LEASE = 2.0
JOBS = 10


def test_leader_killed_mid_run_loses_and_duplicates_nothing(
    own_pg_dsn: str, tmp_path: Path
) -> None:
    cluster = HaCluster(tmp_path, own_pg_dsn, replicas=2, lease_seconds=LEASE, concurrency=2)
    try:
        cluster.start()
        first = cluster.wait_leader()
        follower = next(r for r in cluster.members if r is not first)
        assert not follower.leading()
        before_kill = cluster.submit(JOBS // 2)  # round-robin: the follower accepts them too

        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            states = [r.get("state") for r in cluster.rows()]
            if states.count("running") and states.count("completed"):
                break
            time.sleep(0.1)
        assert "running" in states, states

        killed_at = cluster.kill(first)
        cluster.submit(JOBS - JOBS // 2)
        while not follower.leading() and time.monotonic() - killed_at < 10 * LEASE:
            time.sleep(0.02)
        takeover = time.monotonic() - killed_at
        assert follower.leading()
        assert takeover <= LEASE, takeover

        rejoined = cluster.start_replica("rejoined")
        rows = cluster.wait_done(timeout=300)
        assert not rejoined.leading()
        assert cluster.leader() is follower
        summary = cluster.summary(rows)
    finally:
        cluster.stop()

    assert summary["jobs_submitted"] == JOBS and summary["jobs_refused"] == 0, summary
    assert summary["jobs_completed"] == JOBS, summary
    assert summary["jobs_lost"] == 0 and summary["jobs_duplicated"] == 0, summary
    assert summary["callback_events_per_job_max"] == 1, summary
    assert summary["jobs_without_callback"] == 0, summary
    assert summary["callback_ids_per_job_max"] == 1, summary
    assert set(summary["jobs_redelivered"]) <= set(before_kill), summary
    assert summary["callback_deliveries"] == JOBS + summary["double_callbacks"], summary
