"""Scheduler replicas over one store: only the leader dispatches, capacity is counted from
the database (a new leader does not exceed it), followers accept submits and cancels and
the leader carries the cancel out."""

from __future__ import annotations

import asyncio
from pathlib import Path

from supersvg.common.storage import LocalArtifactStore
from supersvg.scheduler.core import Scheduler
from supersvg.scheduler.leader import LeaderElection
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import open_store
from tools.testing.scheduler import ScriptedExecutor, req, state


class ManualElection(LeaderElection):
    """Leads when the test says so; loses the lead when the test says so (each event
    counts once: after a loss, the replica waits to be elected again)."""

    def __init__(self) -> None:
        super().__init__()
        self.elected = asyncio.Event()
        self.lost = asyncio.Event()

    async def acquire(self) -> None:
        await self.elected.wait()
        self.elected.clear()
        self.is_leader = True

    async def hold(self) -> None:
        await self.lost.wait()
        self.lost.clear()
        self.is_leader = False

    async def release(self) -> None:
        self.is_leader = False


async def _replica(
    tmp_path: Path, executor: ScriptedExecutor, election: LeaderElection, **settings: object
) -> Scheduler:
    config = SchedulerSettings(
        database_url=f"sqlite:///{tmp_path}/s.db",
        default_max_active_jobs=100,
        cancel_grace_seconds=0.0,
        **settings,  # type: ignore[arg-type]
    )
    store = await open_store(config.database_url)
    s = Scheduler(
        config, store, LocalArtifactStore(tmp_path / "a"), executor, "w:1", election=election
    )
    await s.start()
    return s


async def _stop(s: Scheduler) -> None:
    await s.stop()
    await s.store.close()


async def test_only_the_leader_dispatches_and_capacity_comes_from_the_database(
    tmp_path: Path,
) -> None:
    ex_a, ex_b = ScriptedExecutor(capacity=3), ScriptedExecutor(capacity=3, adopt=True)
    el_a, el_b = ManualElection(), ManualElection()
    a = await _replica(tmp_path, ex_a, el_a)
    b = await _replica(tmp_path, ex_b, el_b)
    try:
        jobs = [(await s.submit(req(), "", ""))[0].job_id for s in (a, b, a, b, a)]
        await asyncio.sleep(0.3)
        assert not ex_a.launched and not ex_b.launched, "no leader yet: nothing runs"
        assert not a.leading and not b.leading

        el_a.elected.set()
        await ex_a.wait_launches(3)
        await asyncio.sleep(0.3)
        assert len(ex_a.launched) == 3 and not ex_b.launched
        assert [sp.job_id for sp in ex_a.launched] == jobs[:3], "oldest first"

        # a loses the lead (its attempts keep running: a Kubernetes executor's pods do).
        el_a.lost.set()
        for _ in range(40):
            if not a.leading:
                break
            await asyncio.sleep(0.05)
        assert not a.leading
        el_b.elected.set()
        await asyncio.sleep(0.5)
        assert b.leading
        # b adopted a's three attempts and counts them: nothing more may start.
        assert not ex_b.launched
        assert await b.running_attempts() == 3

        # One of them ends (reported to the new leader): one slot frees, one job starts.
        await ex_b.finish(ex_a.launched[0], 2)  # exit 2: invalid input, failed for good
        (spec,) = await ex_b.wait_launches(1)
        assert spec.job_id == jobs[3]
        assert await state(b, jobs[0]) == "failed"

        # a is elected again later: it keeps its own live attempts, adopts the rest.
        el_b.lost.set()
        el_a.elected.set()
        await asyncio.sleep(0.5)
        assert a.leading and not b.leading
        assert await a.running_attempts() == 3
    finally:
        await _stop(a)
        await _stop(b)


async def test_a_cancel_accepted_by_a_follower_is_carried_out_by_the_leader(
    tmp_path: Path,
) -> None:
    ex_lead, ex_follow = ScriptedExecutor(capacity=2), ScriptedExecutor(capacity=2)
    el_lead, el_follow = ManualElection(), ManualElection()
    el_lead.elected.set()
    leader = await _replica(tmp_path, ex_lead, el_lead)
    follower = await _replica(tmp_path, ex_follow, el_follow)
    try:
        await asyncio.sleep(0.2)
        assert leader.leading and not follower.leading
        rec, _ = await follower.submit(req(), "", "")
        (spec,) = await ex_lead.wait_launches(1)
        assert spec.job_id == rec.job_id
        assert (await follower.cancel("t", rec.job_id)).state == "cancelling"
        assert not ex_follow.cancelled, "a follower's executor watches no attempt"
        for _ in range(40):
            if ex_lead.cancelled:
                break
            await asyncio.sleep(0.05)
        assert ex_lead.cancelled == [(rec.job_id, 1, 0.0)]
        await ex_lead.finish(spec, 3)
        for _ in range(40):
            if await state(leader, rec.job_id) == "cancelled":
                break
            await asyncio.sleep(0.05)
        assert await state(leader, rec.job_id) == "cancelled"
    finally:
        await _stop(leader)
        await _stop(follower)


async def test_max_running_bounds_any_executor(tmp_path: Path) -> None:
    ex = ScriptedExecutor(capacity=10)
    el = ManualElection()
    el.elected.set()
    s = await _replica(tmp_path, ex, el, max_running=2)
    try:
        assert s.capacity() == 2
        for _ in range(4):
            await s.submit(req(), "", "")
        await ex.wait_launches(2)
        await asyncio.sleep(0.3)
        assert len(ex.launched) == 2
    finally:
        await _stop(s)
