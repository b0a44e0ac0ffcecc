"""Fixtures for the service end-to-end tests: the embedded stack shared by the package."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tools.testing.stack import Stack, start_stack


@pytest.fixture(scope="package")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The embedded stack (SQLite + local folder), shared by the tests of this package."""
    s = start_stack(
        tmp_path_factory.mktemp("stack") / ".data",
        env={
            "SUPERSVG_SCHEDULER_CALLBACK_ALLOW_PRIVATE": "true",
            "SUPERSVG_SCHEDULER_CALLBACK_BACKOFF_SECONDS": "0.3",
            "SUPERSVG_SCHEDULER_CANCEL_GRACE_SECONDS": "2",
            "SUPERSVG_GATEWAY_AUTH_CACHE_SECONDS": "1",
        },
    )
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as c:
        yield c


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / ".data"
