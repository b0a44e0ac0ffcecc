"""The embedded stack for the client's end-to-end tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def stack() -> object:
    """The embedded stack (gateway + scheduler + local workers) on loopback."""
    try:
        from tests.support import stack as support
    except ImportError:
        pytest.skip("tests/support/stack.py (the embedded stack launcher) is not available")
    return support
