"""Fixtures of the reliability suites (the shared pieces are ``tools.testing.reliability``)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tools.testing.servers import PG_ADMIN_DSN, pg_admin


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


@pytest.fixture
def own_pg_dsn() -> Iterator[str]:
    """A database of its own, so that cutting its connections touches nobody else."""
    name = f"supersvg_rel_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_ADMIN_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
