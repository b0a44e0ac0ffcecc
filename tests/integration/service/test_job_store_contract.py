"""One contract for every JobStore backend (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest

from supersvg.scheduler.store import (
    CallbackRecord,
    DuplicateIdempotencyKeyError,
    JobRecord,
    SqlJobStore,
    TenantRecord,
    TokenRecord,
)


def job(
    job_id: str, tenant: str = "t1", priority: int = 2, created: float = 0.0, key: str | None = None
) -> JobRecord:
    now = created or time.time()
    return JobRecord(
        job_id=job_id,
        tenant_id=tenant,
        state="queued",
        priority=priority,
        config={"max_paths": 16, "num_iterations": 0, "preset": "auto"},
        input_key=f"jobs/{job_id}/input",
        created_at=now,
        updated_at=now,
        idempotency_key=key,
        request_hash="h1",
        callback_url="",
    )


async def test_migrations_are_versioned_and_idempotent(job_store: SqlJobStore) -> None:
    assert await job_store.migrate() == []
    rows = await job_store.db.fetch("SELECT version, name FROM schema_migrations")
    assert [r["version"] for r in rows] == [1]


async def test_round_trip(job_store: SqlJobStore) -> None:
    rec = job("job_a")
    rec.result = {"metrics": {"psnr": 20.5}}
    rec.cancel_requested = True
    await job_store.insert_job(rec)
    got = await job_store.get_job("job_a")
    assert got == rec
    assert await job_store.get_job("missing") is None


async def test_idempotency_key_unique_per_tenant(job_store: SqlJobStore) -> None:
    await job_store.insert_job(job("job_a", key="k"))
    with pytest.raises(DuplicateIdempotencyKeyError) as err:
        await job_store.insert_job(job("job_b", key="k"))
    assert err.value.existing.job_id == "job_a"
    await job_store.insert_job(job("job_c", tenant="t2", key="k"))
    await job_store.insert_job(job("job_d"))  # no key: never conflicts
    await job_store.insert_job(job("job_e"))
    assert (await job_store.find_idempotent("t2", "k")).job_id == "job_c"  # type: ignore[union-attr]


async def test_claim_order_priority_then_fifo(job_store: SqlJobStore) -> None:
    t = 1000.0
    for i, (jid, prio) in enumerate([("low", 1), ("n1", 2), ("high", 3), ("n2", 2), ("high2", 3)]):
        await job_store.insert_job(job(jid, priority=prio, created=t + i))
    order = []
    while (rec := await job_store.claim_next(f"tok-{len(order)}", 5000.0)) is not None:
        assert rec.state == "running" and rec.attempts == 1 and rec.started_at == 5000.0
        assert rec.worker_token == f"tok-{len(order)}"
        order.append(rec.job_id)
    assert order == ["high", "high2", "n1", "n2", "low"]


async def test_conditional_update(job_store: SqlJobStore) -> None:
    await job_store.insert_job(job("job_a"))
    assert await job_store.update_job("job_a", ("running",), state="completed") is None
    upd = await job_store.update_job("job_a", ("queued",), state="cancelled", finished_at=9.0)
    assert upd is not None and upd.state == "cancelled" and upd.finished_at == 9.0
    with pytest.raises(ValueError, match="cannot update"):
        await job_store.update_job("job_a", None, nonsense=1)


async def test_listing_counting_and_retention_queries(job_store: SqlJobStore) -> None:
    for i in range(5):
        await job_store.insert_job(job(f"job_{i}", created=100.0 + i))
    await job_store.insert_job(job("job_other", tenant="t2", created=50.0))
    page1 = await job_store.list_jobs("t1", 2)
    assert [r.job_id for r in page1] == ["job_4", "job_3"]
    page2 = await job_store.list_jobs("t1", 2, before=(page1[-1].created_at, page1[-1].job_id))
    assert [r.job_id for r in page2] == ["job_2", "job_1"]
    await job_store.update_job("job_1", None, state="completed", finished_at=10.0)
    await job_store.update_job("job_2", None, state="failed", finished_at=20.0)
    assert [r.job_id for r in await job_store.list_jobs("t1", 10, state="completed")] == ["job_1"]
    assert await job_store.count_jobs(("queued",)) == 4
    assert await job_store.count_jobs(("queued",), "t1") == 3
    old = await job_store.finished_before(("completed", "failed"), 15.0)
    assert [r.job_id for r in old] == ["job_1"]
    assert {r.job_id for r in await job_store.jobs_in_states(("failed",))} == {"job_2"}
    await job_store.delete_job("job_1")
    assert await job_store.get_job("job_1") is None


async def test_tenants_and_tokens(job_store: SqlJobStore) -> None:
    await job_store.upsert_tenant(TenantRecord("acme", 10, 2))
    await job_store.upsert_tenant(TenantRecord("acme", 20, 3))
    assert await job_store.get_tenant("acme") == TenantRecord("acme", 20, 3)
    tok = TokenRecord("tok_1", "acme", "ci", 1.0)
    await job_store.create_token(tok, "hash1")
    assert await job_store.token_by_hash("hash1") == tok
    assert await job_store.token_by_hash("nope") is None
    assert await job_store.revoke_token("tok_1", 2.0) is True
    assert await job_store.revoke_token("tok_1", 3.0) is False
    assert (await job_store.token_by_hash("hash1")).revoked_at == 2.0  # type: ignore[union-attr]
    assert [t.token_id for t in await job_store.list_tokens("acme")] == ["tok_1"]
    assert await job_store.list_tokens("other") == []


async def test_callback_outbox(job_store: SqlJobStore) -> None:
    cb = CallbackRecord("msg_1", "job_a", "https://x/y", "{}", "pending", 5.0, 1.0)
    await job_store.add_callback(cb)
    assert await job_store.due_callbacks(4.0) == []
    assert [c.delivery_id for c in await job_store.due_callbacks(5.0)] == ["msg_1"]
    await job_store.update_callback("msg_1", state="delivered", attempts=2)
    assert await job_store.due_callbacks(100.0) == []
    (got,) = await job_store.callbacks_for("job_a")
    assert got.state == "delivered" and got.attempts == 2
