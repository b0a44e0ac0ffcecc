"""The job store on SQL: PostgreSQL (asyncpg) and SQLite (aiosqlite) share every statement.

Statements use ``$n`` placeholders (asyncpg's); the SQLite adapter rewrites them to ``?n``,
which SQLite numbers the same way. Times are unix seconds and JSON is text, so the schema
is portable too. Migrations are the numbered ``migrations/NNNN_*.sql`` files, recorded in
``schema_migrations``.
"""

from __future__ import annotations

import abc
import asyncio
import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import fields as dc_fields
from pathlib import Path
from typing import Any

from supersvg.scheduler.store.base import (
    CallbackRecord,
    DuplicateIdempotencyKeyError,
    JobRecord,
    JobStore,
    TenantRecord,
    TokenRecord,
)

__all__ = ["Database", "PostgresDatabase", "SqlJobStore", "SqliteDatabase", "open_store"]

MIGRATIONS = Path(__file__).with_name("migrations")
_JOB_COLUMNS = [f.name for f in dc_fields(JobRecord)]
_CB_COLUMNS = [f.name for f in dc_fields(CallbackRecord) if f.name != "extra"]
_JSON_COLUMNS = {"config", "result"}


class Database(abc.ABC):
    """The few operations the store needs, per driver."""

    dialect: str

    @abc.abstractmethod
    async def execute(self, sql: str, *args: Any) -> int:
        """Run a statement; returns the affected row count."""

    @abc.abstractmethod
    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]: ...

    @abc.abstractmethod
    async def script(self, sql: str) -> None:
        """Run several statements (migrations)."""

    @abc.abstractmethod
    async def close(self) -> None: ...

    @abc.abstractmethod
    def is_unique_violation(self, exc: BaseException) -> bool: ...

    async def lock_migrations(self) -> None:  # noqa: B027 - optional hook
        """Serialise concurrent migrators (several replicas starting together)."""

    async def unlock_migrations(self) -> None:  # noqa: B027 - optional hook
        """Release :meth:`lock_migrations`."""


class PostgresDatabase(Database):
    dialect = "postgresql"

    def __init__(self, pool: Any) -> None:
        self.pool = pool
        self._lock_conn: Any = None

    @classmethod
    async def connect(cls, dsn: str) -> PostgresDatabase:
        import asyncpg

        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=10, timeout=10)
        return cls(pool)

    async def execute(self, sql: str, *args: Any) -> int:
        status = await self.pool.execute(sql, *args)
        try:
            return int(str(status).rsplit(" ", 1)[-1])
        except ValueError:
            return 0

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        rows = await self.pool.fetch(sql, *args)
        return [dict(r) for r in rows]

    async def script(self, sql: str) -> None:
        await self.pool.execute(sql)

    async def close(self) -> None:
        await self.pool.close()

    def is_unique_violation(self, exc: BaseException) -> bool:
        import asyncpg

        return isinstance(exc, asyncpg.UniqueViolationError)

    async def lock_migrations(self) -> None:
        self._lock_conn = await self.pool.acquire()
        await self._lock_conn.execute("SELECT pg_advisory_lock(51051)")

    async def unlock_migrations(self) -> None:
        if self._lock_conn is not None:
            await self._lock_conn.execute("SELECT pg_advisory_unlock(51051)")
            await self.pool.release(self._lock_conn)
            self._lock_conn = None


class SqliteDatabase(Database):
    dialect = "sqlite"
    _PARAM = re.compile(r"\$(\d+)")

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        self._lock = asyncio.Lock()

    @classmethod
    async def connect(cls, path: str) -> SqliteDatabase:
        import aiosqlite

        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        conn = await aiosqlite.connect(path, isolation_level=None)
        conn.row_factory = aiosqlite.Row
        # WAL lets the admin CLI write tokens while the scheduler runs.
        await conn.execute("PRAGMA journal_mode=WAL")
        await conn.execute("PRAGMA busy_timeout=10000")
        await conn.execute("PRAGMA synchronous=NORMAL")
        return cls(conn)

    def _sql(self, sql: str) -> str:
        return self._PARAM.sub(r"?\1", sql)

    async def execute(self, sql: str, *args: Any) -> int:
        async with self._lock:
            cur = await self.conn.execute(self._sql(sql), args)
            count = cur.rowcount
            await cur.close()
            return int(count)

    async def fetch(self, sql: str, *args: Any) -> list[dict[str, Any]]:
        async with self._lock:
            cur = await self.conn.execute(self._sql(sql), args)
            rows = await cur.fetchall()
            await cur.close()
            return [dict(r) for r in rows]

    async def script(self, sql: str) -> None:
        async with self._lock:
            await self.conn.executescript(sql)

    async def close(self) -> None:
        await self.conn.close()

    def is_unique_violation(self, exc: BaseException) -> bool:
        import sqlite3

        return isinstance(exc, sqlite3.IntegrityError) and "UNIQUE" in str(exc)


def _job_from_row(row: dict[str, Any]) -> JobRecord:
    values = {k: row[k] for k in _JOB_COLUMNS}
    values["config"] = json.loads(values["config"]) if values["config"] else {}
    values["result"] = json.loads(values["result"]) if values["result"] else None
    values["cancel_requested"] = bool(values["cancel_requested"])
    return JobRecord(**values)


def _encode(name: str, value: Any) -> Any:
    if name in _JSON_COLUMNS:
        return None if value is None else json.dumps(value, sort_keys=True)
    if name == "cancel_requested":
        return int(bool(value))
    return value


class SqlJobStore(JobStore):
    """:class:`JobStore` over a :class:`Database`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def migrate(self) -> list[int]:
        await self.db.lock_migrations()
        try:
            await self.db.script(
                "CREATE TABLE IF NOT EXISTS schema_migrations ("
                "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                "applied_at DOUBLE PRECISION NOT NULL)"
            )
            rows = await self.db.fetch("SELECT version FROM schema_migrations")
            done = {r["version"] for r in rows}
            applied = []
            for path in sorted(MIGRATIONS.glob("*.sql")):
                version = int(path.name.split("_", 1)[0])
                if version in done:
                    continue
                sql = path.read_text()
                await self.db.script(sql)
                await self.db.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
                    version,
                    path.stem,
                    time.time(),
                )
                applied.append(version)
            return applied
        finally:
            await self.db.unlock_migrations()

    async def close(self) -> None:
        await self.db.close()

    # ----------------------------------------------------------------------- jobs
    async def insert_job(self, job: JobRecord) -> None:
        cols = ", ".join(_JOB_COLUMNS)
        marks = ", ".join(f"${i + 1}" for i in range(len(_JOB_COLUMNS)))
        values = [_encode(c, getattr(job, c)) for c in _JOB_COLUMNS]
        try:
            await self.db.execute(f"INSERT INTO jobs ({cols}) VALUES ({marks})", *values)
        except Exception as exc:
            if self.db.is_unique_violation(exc) and job.idempotency_key is not None:
                existing = await self.find_idempotent(job.tenant_id, job.idempotency_key)
                if existing is not None:
                    raise DuplicateIdempotencyKeyError(existing) from None
            raise

    async def get_job(self, job_id: str) -> JobRecord | None:
        rows = await self.db.fetch("SELECT * FROM jobs WHERE job_id = $1", job_id)
        return _job_from_row(rows[0]) if rows else None

    async def find_idempotent(self, tenant_id: str, key: str) -> JobRecord | None:
        rows = await self.db.fetch(
            "SELECT * FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2", tenant_id, key
        )
        return _job_from_row(rows[0]) if rows else None

    async def list_jobs(
        self,
        tenant_id: str,
        limit: int,
        state: str | None = None,
        before: tuple[float, str] | None = None,
    ) -> list[JobRecord]:
        where = ["tenant_id = $1"]
        args: list[Any] = [tenant_id]
        if state:
            args.append(state)
            where.append(f"state = ${len(args)}")
        if before is not None:
            args.extend(before)
            a, b = len(args) - 1, len(args)
            where.append(f"(created_at < ${a} OR (created_at = ${a} AND job_id < ${b}))")
        args.append(limit)
        sql = (
            f"SELECT * FROM jobs WHERE {' AND '.join(where)} "
            f"ORDER BY created_at DESC, job_id DESC LIMIT ${len(args)}"
        )
        return [_job_from_row(r) for r in await self.db.fetch(sql, *args)]

    async def update_job(
        self, job_id: str, expected_states: Iterable[str] | None = None, **fields: Any
    ) -> JobRecord | None:
        unknown = set(fields) - set(_JOB_COLUMNS)
        if unknown or "job_id" in fields:
            raise ValueError(f"cannot update columns {sorted(unknown)}")
        fields.setdefault("updated_at", time.time())
        args: list[Any] = []
        sets = []
        for name, value in fields.items():
            args.append(_encode(name, value))
            sets.append(f"{name} = ${len(args)}")
        args.append(job_id)
        sql = f"UPDATE jobs SET {', '.join(sets)} WHERE job_id = ${len(args)}"
        if expected_states is not None:
            states = list(expected_states)
            marks = []
            for s in states:
                args.append(s)
                marks.append(f"${len(args)}")
            sql += f" AND state IN ({', '.join(marks)})"
        rows = await self.db.fetch(sql + " RETURNING *", *args)
        return _job_from_row(rows[0]) if rows else None

    async def claim_next(self, worker_token: str, now: float) -> JobRecord | None:
        # Single statement: the sub-select and the state guard make a concurrent claim of
        # the same row impossible (the loser updates nothing); SKIP LOCKED keeps replicas on
        # PostgreSQL from queueing behind each other.
        lock = " FOR UPDATE SKIP LOCKED" if self.db.dialect == "postgresql" else ""
        rows = await self.db.fetch(
            "UPDATE jobs SET state = 'running', attempts = attempts + 1, worker_token = $1, "
            "started_at = COALESCE(started_at, $2), updated_at = $2, progress = 0, "
            "stage = 'starting' WHERE state = 'queued' AND job_id = ("
            "SELECT job_id FROM jobs WHERE state = 'queued' "
            f"ORDER BY priority DESC, created_at, job_id LIMIT 1{lock}) RETURNING *",
            worker_token,
            now,
        )
        return _job_from_row(rows[0]) if rows else None

    async def jobs_in_states(self, states: Sequence[str]) -> list[JobRecord]:
        marks = ", ".join(f"${i + 1}" for i in range(len(states)))
        rows = await self.db.fetch(
            f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY created_at", *states
        )
        return [_job_from_row(r) for r in rows]

    async def count_jobs(self, states: Sequence[str], tenant_id: str | None = None) -> int:
        marks = ", ".join(f"${i + 1}" for i in range(len(states)))
        args: list[Any] = list(states)
        sql = f"SELECT COUNT(*) AS n FROM jobs WHERE state IN ({marks})"
        if tenant_id is not None:
            args.append(tenant_id)
            sql += f" AND tenant_id = ${len(args)}"
        rows = await self.db.fetch(sql, *args)
        return int(rows[0]["n"])

    async def finished_before(
        self, states: Sequence[str], before: float, limit: int = 100
    ) -> list[JobRecord]:
        marks = ", ".join(f"${i + 1}" for i in range(len(states)))
        n = len(states)
        rows = await self.db.fetch(
            f"SELECT * FROM jobs WHERE state IN ({marks}) AND finished_at < ${n + 1} "
            f"ORDER BY finished_at LIMIT ${n + 2}",
            *states,
            before,
            limit,
        )
        return [_job_from_row(r) for r in rows]

    async def delete_job(self, job_id: str) -> None:
        await self.db.execute("DELETE FROM callbacks WHERE job_id = $1", job_id)
        await self.db.execute("DELETE FROM jobs WHERE job_id = $1", job_id)

    # ----------------------------------------------------------------------- tenants/tokens
    async def upsert_tenant(self, tenant: TenantRecord) -> None:
        await self.db.execute(
            "INSERT INTO tenants (tenant_id, rate_limit_per_minute, max_active_jobs, created_at) "
            "VALUES ($1, $2, $3, $4) ON CONFLICT (tenant_id) DO UPDATE SET "
            "rate_limit_per_minute = excluded.rate_limit_per_minute, "
            "max_active_jobs = excluded.max_active_jobs",
            tenant.tenant_id,
            tenant.rate_limit_per_minute,
            tenant.max_active_jobs,
            time.time(),
        )

    async def get_tenant(self, tenant_id: str) -> TenantRecord | None:
        rows = await self.db.fetch(
            "SELECT tenant_id, rate_limit_per_minute, max_active_jobs FROM tenants "
            "WHERE tenant_id = $1",
            tenant_id,
        )
        return TenantRecord(**rows[0]) if rows else None

    async def create_token(self, token: TokenRecord, token_hash: str) -> None:
        await self.db.execute(
            "INSERT INTO tokens (token_id, token_hash, tenant_id, name, created_at, revoked_at) "
            "VALUES ($1, $2, $3, $4, $5, $6)",
            token.token_id,
            token_hash,
            token.tenant_id,
            token.name,
            token.created_at,
            token.revoked_at,
        )

    async def token_by_hash(self, token_hash: str) -> TokenRecord | None:
        rows = await self.db.fetch(
            "SELECT token_id, tenant_id, name, created_at, revoked_at FROM tokens "
            "WHERE token_hash = $1",
            token_hash,
        )
        return TokenRecord(**rows[0]) if rows else None

    async def revoke_token(self, token_id: str, now: float) -> bool:
        n = await self.db.execute(
            "UPDATE tokens SET revoked_at = $1 WHERE token_id = $2 AND revoked_at IS NULL",
            now,
            token_id,
        )
        return n > 0

    async def list_tokens(self, tenant_id: str | None = None) -> list[TokenRecord]:
        sql = "SELECT token_id, tenant_id, name, created_at, revoked_at FROM tokens"
        args: list[Any] = []
        if tenant_id is not None:
            sql += " WHERE tenant_id = $1"
            args.append(tenant_id)
        rows = await self.db.fetch(sql + " ORDER BY created_at, token_id", *args)
        return [TokenRecord(**r) for r in rows]

    # ----------------------------------------------------------------------- callbacks
    async def add_callback(self, cb: CallbackRecord) -> None:
        cols = ", ".join(_CB_COLUMNS)
        marks = ", ".join(f"${i + 1}" for i in range(len(_CB_COLUMNS)))
        await self.db.execute(
            f"INSERT INTO callbacks ({cols}) VALUES ({marks})",
            *[getattr(cb, c) for c in _CB_COLUMNS],
        )

    async def due_callbacks(self, now: float, limit: int = 20) -> list[CallbackRecord]:
        rows = await self.db.fetch(
            "SELECT * FROM callbacks WHERE state = 'pending' AND next_attempt_at <= $1 "
            "ORDER BY next_attempt_at LIMIT $2",
            now,
            limit,
        )
        return [CallbackRecord(**r) for r in rows]

    async def update_callback(self, delivery_id: str, **fields: Any) -> None:
        unknown = set(fields) - set(_CB_COLUMNS)
        if unknown:
            raise ValueError(f"cannot update callback columns {sorted(unknown)}")
        args: list[Any] = []
        sets = []
        for name, value in fields.items():
            args.append(value)
            sets.append(f"{name} = ${len(args)}")
        args.append(delivery_id)
        await self.db.execute(
            f"UPDATE callbacks SET {', '.join(sets)} WHERE delivery_id = ${len(args)}", *args
        )

    async def callbacks_for(self, job_id: str) -> list[CallbackRecord]:
        rows = await self.db.fetch(
            "SELECT * FROM callbacks WHERE job_id = $1 ORDER BY created_at", job_id
        )
        return [CallbackRecord(**r) for r in rows]


async def open_store(url: str) -> SqlJobStore:
    """``postgresql://...`` or ``sqlite:///path`` (``sqlite:///:memory:`` for tests)."""
    db: Database
    if url.startswith(("postgresql://", "postgres://")):
        db = await PostgresDatabase.connect(url)
    elif url.startswith("sqlite://"):
        path = url.removeprefix("sqlite://").removeprefix("/") or ":memory:"
        db = await SqliteDatabase.connect(path)
    else:
        raise ValueError(f"unsupported database URL {url!r} (postgresql://... or sqlite:///path)")
    return SqlJobStore(db)
