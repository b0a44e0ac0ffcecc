"""Fixtures for the service integration tests: a job store per backend."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from supersvg.scheduler.store import SqlJobStore, open_store


@pytest.fixture(params=["sqlite", "postgresql"])
async def job_store(
    request: pytest.FixtureRequest, tmp_path, postgres_dsn: str
) -> AsyncIterator[SqlJobStore]:
    """A migrated, empty store on each backend (PostgreSQL: a fresh schema per test)."""
    if request.param == "sqlite":
        store = await open_store(f"sqlite:///{tmp_path}/jobs.db")
    else:
        schema = f"t_{uuid.uuid4().hex[:10]}"
        conn = await asyncpg.connect(postgres_dsn)
        await conn.execute(f"CREATE SCHEMA {schema}")
        await conn.close()
        store = await open_store(f"{postgres_dsn}?search_path={schema}")
    await store.migrate()
    try:
        yield store
    finally:
        await store.close()
