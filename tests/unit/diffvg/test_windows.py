"""Chunks drawn on their own windows of the canvas, and deep fills through the stack
(pydiffvg.engine): the same image and gradients as drawing every chunk on the canvas."""

from __future__ import annotations

import importlib
from typing import Any

import pytest
import torch

import pydiffvg
from pydiffvg.testing import blob_path
from tools.testing.diffvg import cosine

engine = importlib.import_module("pydiffvg.engine")
F64 = torch.float64


def _tiled_scene(
    tiles: int, per_tile: int, tile: int, *, strokes: bool
) -> tuple[list[Any], list[Any], int, int]:
    """``tiles`` tiles side by side, each with ``per_tile`` overlapping blobs, apart by a
    gutter of one tile (a training batch's layout); some groups even-odd, some stroked."""
    gen = torch.Generator().manual_seed(3)
    shapes: list[Any] = []
    groups: list[Any] = []
    for t in range(tiles):
        origin = torch.tensor([(2 * t + 0.5) * tile, 0.5 * tile], dtype=F64)
        for i in range(per_tile):
            centre = origin + torch.rand(2, generator=gen, dtype=F64) * tile
            shapes.append(blob_path(centre, 0.3 * tile, generator=gen, dtype=F64))
            colour = torch.rand(4, generator=gen, dtype=F64)
            colour[3] = 0.4 + 0.6 * colour[3]
            stroke = torch.tensor([0.1, 0.2, 0.9, 0.8], dtype=F64) if strokes and i % 3 else None
            shapes[-1].stroke_width = torch.tensor(1.5, dtype=F64)
            groups.append(
                pydiffvg.ShapeGroup(
                    torch.tensor([len(shapes) - 1]),
                    colour,
                    use_even_odd_rule=i % 4 == 1,
                    stroke_color=stroke,
                )
            )
    return shapes, groups, 2 * tiles * tile, 2 * tile


def _render_and_grads(
    shapes: list[Any], groups: list[Any], width: int, height: int, **kw: Any
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    leaves = [s.points.detach().requires_grad_(True) for s in shapes]
    colours = [g.fill_color.detach().requires_grad_(True) for g in groups]
    for s, p in zip(shapes, leaves, strict=True):
        s.points = p
    for g, c in zip(groups, colours, strict=True):
        g.fill_color = c
    gen = torch.Generator().manual_seed(9)
    target = torch.rand(height, width, 4, generator=gen, dtype=F64)
    img = pydiffvg.render(shapes, groups, width=width, height=height, **kw)
    grads = torch.autograd.grad(((img - target) ** 2).sum(), leaves + colours)
    return img.detach(), list(grads)


@pytest.mark.parametrize("strokes", [False, True], ids=["fills", "fills-and-strokes"])
def test_chunks_on_their_windows_match_chunks_on_the_canvas(
    strokes: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    shapes, groups, width, height = _tiled_scene(4, 10, 24, strokes=strokes)
    windows: list[object] = []
    real = engine._chunk_window
    monkeypatch.setattr(engine, "_chunk_window", lambda *a: windows.append(w := real(*a)) or w)
    # A small entry budget: one chunk per tile or so, each far smaller than the canvas.
    img, grads = _render_and_grads(shapes, groups, width, height, chunk_entries=2000)
    used = [w for w in windows if w is not None]
    assert len(used) >= 4, windows
    assert all((w[2] - w[0]) * (w[3] - w[1]) < width * height / 2 for w in used)  # type: ignore[index]
    monkeypatch.setattr(engine, "WINDOW_MAX_SHARE", 0.0)  # every chunk on the whole canvas
    windows.clear()
    ref, ref_grads = _render_and_grads(shapes, groups, width, height, chunk_entries=2000)
    assert windows and all(w is None for w in windows)
    assert torch.allclose(img, ref, atol=1e-10)
    for g, r in zip(grads, ref_grads, strict=True):
        assert torch.allclose(g, r, atol=1e-8, rtol=1e-7)


def test_deep_fills_take_the_stack_and_match_sparse_entries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 60 blobs a third of a 48 px canvas across: about 5 deep, too many layers for the
    # layer-count rule (60 x box > 6 x their area), deep enough for STACK_MIN_DEPTH.
    gen = torch.Generator().manual_seed(4)
    size = 48
    shapes, groups = [], []
    for i in range(60):
        centre = (0.2 + 0.6 * torch.rand(2, generator=gen, dtype=F64)) * size
        shapes.append(blob_path(centre, 0.16 * size, generator=gen, dtype=F64))
        colour = torch.rand(4, generator=gen, dtype=F64)
        colour[3] = 0.3 + 0.5 * colour[3]
        groups.append(pydiffvg.ShapeGroup(torch.tensor([i]), colour, use_even_odd_rule=i % 5 == 0))
    boxes = torch.stack(
        [torch.cat([s.points.min(0).values, s.points.max(0).values]) for s in shapes]
    )
    area = float(((boxes[:, 2:] - boxes[:, :2]).clamp(min=0).prod(1)).sum())
    assert 60 * size * size > engine.STACK_MAX_RATIO * area  # the layer-count rule says no
    assert area >= engine.STACK_MIN_DEPTH * size * size  # deep
    used: list[object] = []
    real = engine.fill_stack
    monkeypatch.setattr(
        engine, "fill_stack", lambda *a, **k: used.append(k["box"]) or real(*a, **k)
    )
    stacked, g_stacked = _render_and_grads(shapes, groups, size, size)
    assert used  # through the stack
    monkeypatch.setattr(engine, "STACK_MIN_DEPTH", float("inf"))
    used.clear()
    sparse, g_sparse = _render_and_grads(shapes, groups, size, size)
    assert not used  # sparse entries
    # The stack leaves out layers under DEPTH_CUT of light: equal up to that bound.
    assert torch.allclose(stacked, sparse, atol=1e-4)
    assert cosine(torch.cat([g.flatten() for g in g_stacked]),
                  torch.cat([g.flatten() for g in g_sparse])) > 0.9999  # fmt: skip
