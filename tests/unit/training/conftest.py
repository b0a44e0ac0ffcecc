"""Shared fixtures: a small synthetic dataset and a briefly trained tiny checkpoint."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from supersvg.datasets import generate_test


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    # The CI machine has 2 shared cores; more torch threads than free cores is slower.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@pytest.fixture(scope="session")
def test_images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``test``-style synthetic images (12 of them) in an image folder."""
    root = tmp_path_factory.mktemp("data")
    generate_test(root, count=12)
    return root / "test"
