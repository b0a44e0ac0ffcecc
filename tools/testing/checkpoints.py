"""A tiny coarse-model checkpoint trained on the spot, for tests of serving a model."""

from __future__ import annotations

from pathlib import Path

from supersvg.datasets import generate_test
from supersvg.vectorizer.train.cli import main as train_main

__all__ = ["train_tiny_checkpoint"]


def train_tiny_checkpoint(workdir: Path, steps: int = 3) -> Path:
    """``supersvg train`` of the ``tiny`` config for ``steps`` steps on four synthetic
    images (a few seconds on one CPU thread); returns the run's ``last.pt``."""
    generate_test(workdir / "data", count=4)
    run = workdir / "run"
    rc = train_main(
        ["train", "--data", str(workdir / "data" / "test"), "--output", str(run),
         "--max-steps", str(steps), "--batch-size", "2", "--max-images", "4",
         "--threads", "1", "--preview-every", "1000", "--checkpoint-every", "1000"]
    )  # fmt: skip
    if rc != 0:
        raise RuntimeError(f"supersvg train exited {rc}")
    return run / "last.pt"
