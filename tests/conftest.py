"""Test harness: markers by path, and fixtures that own real servers on loopback.

- ``postgres_dsn``: a fresh database on the PostgreSQL server at 127.0.0.1:5432 (or
  ``SUPERSVG_TEST_PG``), created for the test session and dropped after it.
- ``s3_server`` / ``s3``: a real S3 HTTP server (moto's server mode) on a free port, and a
  fresh bucket per test with a ``minio`` client pointed at it.
Kubernetes API fixtures (kmock with the project's protocol fixes) live in
``tools/testing/kube``.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.testing.servers import PG_ADMIN_DSN, S3Server, free_port, pg_admin, start_s3_server

ROOT = Path(__file__).resolve().parent
_PATH_MARKERS = ("unit", "integration", "e2e")

pytest_plugins = ["tools.testing.kube.fixtures"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--run-slow", action="store_true", default=False, help="also run tests marked slow"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:  # pragma: no cover - torch is a dev dependency
        has_cuda = False
    run_slow = config.getoption("--run-slow") or os.environ.get("SUPERSVG_RUN_SLOW") == "1"
    skip_gpu = pytest.mark.skip(reason="needs a CUDA device")
    skip_slow = pytest.mark.skip(reason="slow variant: run with --run-slow")
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(ROOT).parts
        if rel and rel[0] in _PATH_MARKERS:
            item.add_marker(getattr(pytest.mark, rel[0]))
        if "gpu" in item.keywords and not has_cuda:
            item.add_marker(skip_gpu)
        if "slow" in item.keywords and not run_slow:
            item.add_marker(skip_slow)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_dsn() -> Iterator[str]:
    """DSN of a fresh, empty database that lives for the test session."""
    name = f"supersvg_test_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    base = PG_ADMIN_DSN.rsplit("/", 1)[0]
    try:
        yield f"{base}/{name}"
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# --------------------------------------------------------------------------- S3


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    server = start_s3_server(free_port(), tmp_path_factory.mktemp("s3"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server: S3Server) -> Iterator[S3Server]:
    """The S3 server with a fresh, empty bucket (``s3.bucket``) for this test."""
    bucket = f"test-{uuid.uuid4().hex[:16]}"
    client = s3_server.client()
    client.make_bucket(bucket)
    view = s3_server.with_bucket(bucket)
    try:
        yield view
    finally:
        for obj in client.list_objects(bucket, recursive=True):
            client.remove_object(bucket, obj.object_name)
        client.remove_bucket(bucket)
