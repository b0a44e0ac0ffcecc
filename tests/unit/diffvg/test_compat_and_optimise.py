"""DiffVG compatibility (an unchanged DiffVG-style script) and optimisation through the
renderer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import pydiffvg
from pydiffvg.testing import random_scene
from tools.testing.diffvg import psnr

SCRIPT = Path(__file__).parent / "fixtures" / "diffvg_style_script.py"


def test_diffvg_style_script_runs_unchanged(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    losses = [float(v) for v in re.findall(r"loss: ([0-9.eE+-]+)", proc.stdout)]
    assert len(losses) == 60
    assert losses[-1] < 0.1 * losses[0]
    for name in ("target.png", "final.png", "final.svg"):
        assert (out / name).stat().st_size > 0
    width, height, shapes, groups = pydiffvg.svg_to_scene(str(out / "final.svg"))
    assert (width, height, len(shapes), len(groups)) == (96, 96, 1, 1)


def _optimise(seed: int, size: int, steps: int, noise: float) -> float:
    shapes, groups = random_scene(
        seed, width=size, height=size, num_shapes=32, strokes=False, holes=False
    )
    background = torch.ones(size, size, 3)
    with torch.no_grad():
        target = pydiffvg.render(shapes, groups, width=size, height=size, background=background)[
            ..., :3
        ]
    gen = torch.Generator().manual_seed(seed)
    points = [
        (s.points + noise * torch.randn(s.points.shape, generator=gen)).requires_grad_()
        for s in shapes
    ]
    colors = [
        (g.fill_color + 0.1 * torch.randn(4, generator=gen)).clamp(0, 1).requires_grad_()
        for g in groups
    ]
    for s, p in zip(shapes, points, strict=True):
        s.points = p
    for g, c in zip(groups, colors, strict=True):
        g.fill_color = c
    opt = torch.optim.Adam([{"params": points, "lr": 0.1}, {"params": colors, "lr": 0.01}])
    start = None
    for _ in range(steps):
        opt.zero_grad()
        img = pydiffvg.render(shapes, groups, width=size, height=size, background=background)[
            ..., :3
        ]
        if start is None:
            start = psnr(img.detach(), target)
        ((img - target) ** 2).mean().backward()
        opt.step()
        with torch.no_grad():
            for c in colors:
                c.clamp_(0, 1)
    with torch.no_grad():
        final = pydiffvg.render(shapes, groups, width=size, height=size, background=background)[
            ..., :3
        ]
    assert start is not None and start < 25.0  # the perturbation is visible
    return psnr(final, target)


def test_adam_recovers_perturbed_32_path_scene() -> None:
    assert _optimise(seed=7, size=64, steps=100, noise=1.5) >= 35.0


@pytest.mark.slow
def test_adam_recovers_larger_perturbation_at_128px() -> None:
    assert _optimise(seed=11, size=128, steps=300, noise=3.0) >= 35.0
