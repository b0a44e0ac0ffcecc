"""The harness's real servers answer over the network."""

from __future__ import annotations

import urllib.request
import uuid
from datetime import timedelta
from io import BytesIO

import asyncpg


async def test_postgres_fresh_database_roundtrip(postgres_dsn: str) -> None:
    conn = await asyncpg.connect(postgres_dsn)
    try:
        # The database is the session's own: created by the fixture, named for it.
        created = await conn.fetchval(
            "SELECT count(*) FROM pg_database WHERE datname = current_database()"
        )
        assert created == 1
        await conn.execute("CREATE TEMP TABLE probe (v text)")
        await conn.execute("INSERT INTO probe VALUES ($1)", "hello")
        assert await conn.fetchval("SELECT v FROM probe") == "hello"
        assert "supersvg_test_" in await conn.fetchval("SELECT current_database()")
    finally:
        await conn.close()


def test_s3_put_get_and_presigned_get(s3) -> None:  # type: ignore[no-untyped-def]
    client = s3.client()
    body = uuid.uuid4().bytes * 100
    client.put_object(s3.bucket, "jobs/a/input", BytesIO(body), len(body))
    got = client.get_object(s3.bucket, "jobs/a/input")
    try:
        assert got.read() == body
    finally:
        got.close()
        got.release_conn()
    url = client.presigned_get_object(s3.bucket, "jobs/a/input", expires=timedelta(minutes=5))
    assert "X-Amz-Expires=300" in url and f"/{s3.bucket}/jobs/a/input" in url
    with urllib.request.urlopen(url, timeout=5) as resp:
        assert resp.status == 200
        assert resp.read() == body
