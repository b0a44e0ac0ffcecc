"""The embedded stack for the client's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.stack import Stack, start_stack

#: Upload limit of this stack, small so that the 413 test sends little data.
MAX_UPLOAD_BYTES = 200_000


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Gateway + scheduler + local workers (SQLite, local artifacts) on loopback ports."""
    s = start_stack(
        tmp_path_factory.mktemp("client-stack") / ".data",
        env={
            # The webhook test's receiver listens on loopback.
            "SUPERSVG_SCHEDULER_CALLBACK_ALLOW_PRIVATE": "true",
            "SUPERSVG_SCHEDULER_CALLBACK_BACKOFF_SECONDS": "0.3",
            "SUPERSVG_SCHEDULER_CANCEL_GRACE_SECONDS": "2",
            "SUPERSVG_GATEWAY_MAX_UPLOAD_BYTES": str(MAX_UPLOAD_BYTES),
        },
    )
    try:
        yield s
    finally:
        s.stop()
