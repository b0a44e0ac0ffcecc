"""Leader election on PostgreSQL (session advisory lock on a connection of its own)."""

from __future__ import annotations

import asyncio
import time
import uuid

import asyncpg

from supersvg.scheduler.leader.database import AdvisoryLockElection

LEASE = 1.5


async def test_one_leader_and_takeover_when_its_session_ends(postgres_dsn: str) -> None:
    name = f"test-{uuid.uuid4().hex[:8]}"
    a = AdvisoryLockElection(postgres_dsn, name, LEASE)
    b = AdvisoryLockElection(postgres_dsn, name, LEASE)
    await a.acquire()
    holding = asyncio.create_task(a.hold())
    waiting = asyncio.create_task(b.acquire())
    await asyncio.sleep(2 * LEASE)
    assert not waiting.done() and not holding.done() and a.is_leader

    # The leader's session is cut (a network partition, a database failover): the server
    # lets the lock go, the old leader notices and steps down, the follower takes over.
    admin = await asyncpg.connect(postgres_dsn)
    try:
        killed = await admin.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name LIKE $1",
            f"%{a.identity}%",
        )
    finally:
        await admin.close()
    assert killed == 1
    cut = time.monotonic()
    await asyncio.wait_for(holding, LEASE)  # hold() returns: a stepped down
    assert not a.is_leader
    await asyncio.wait_for(waiting, LEASE)
    assert b.is_leader and time.monotonic() - cut <= LEASE

    # A graceful release hands over at once.
    again = asyncio.create_task(a.acquire())
    await asyncio.sleep(LEASE / 2)
    assert not again.done()
    await b.release()
    await asyncio.wait_for(again, LEASE)
    assert a.is_leader
    await a.release()


async def test_different_names_do_not_exclude_each_other(postgres_dsn: str) -> None:
    a = AdvisoryLockElection(postgres_dsn, f"test-{uuid.uuid4().hex[:8]}", LEASE)
    b = AdvisoryLockElection(postgres_dsn, f"test-{uuid.uuid4().hex[:8]}", LEASE)
    await asyncio.wait_for(a.acquire(), LEASE)
    await asyncio.wait_for(b.acquire(), LEASE)
    await a.release()
    await b.release()
