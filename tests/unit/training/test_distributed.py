"""Two-process data-parallel training on CPU (Gloo) through torchrun (slow variant)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from supersvg.vectorizer.models import load_checkpoint
from tools.testing.servers import free_port


@pytest.mark.slow
def test_torchrun_two_processes_train_in_step(test_images: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
        "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
        "-m", "supersvg.vectorizer.train.cli", "train", "--data", str(test_images),
        "--output", str(out), "--max-steps", "3", "--batch-size", "2", "--max-images", "4",
        "--threads", "1", "--device", "cpu",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    ckpt = load_checkpoint(out / "last.pt")
    assert ckpt["train"]["step"] == 3
    # Both ranks printed a summary with world_size 2; only rank 0 wrote the run folder.
    assert proc.stdout.count('"world_size": 2') == 2
    assert all(torch.isfinite(t).all() for t in ckpt["models"]["coarse"].values())
