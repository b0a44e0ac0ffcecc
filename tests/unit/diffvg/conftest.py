"""Fixtures for the pydiffvg tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def _single_thread() -> Iterator[None]:
    # The scenes here are small: one intra-op thread avoids thread hand-off stalls on a
    # shared CI machine and keeps timings stable.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
