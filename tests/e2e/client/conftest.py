"""The embedded stack for the client's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.testing.stack import Stack, start_stack
from tools.testing.stackconfig import STACK_ENV


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Gateway + scheduler + local workers (SQLite, local artifacts) on loopback ports."""
    s = start_stack(tmp_path_factory.mktemp("client-stack") / ".data", env=STACK_ENV)
    try:
        yield s
    finally:
        s.stop()
