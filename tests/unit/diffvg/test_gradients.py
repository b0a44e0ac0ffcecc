"""Gradients of pydiffvg: autograd gradcheck on tiny scenes and finite differences of an
image loss on realistic ones."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import pydiffvg
from pydiffvg.testing import random_scene
from tools.testing.diffvg import central_differences, cosine

F64 = torch.float64


def _t(values: object) -> torch.Tensor:
    return torch.tensor(values, dtype=F64, requires_grad=True)


def _gradcheck(fn: Callable[..., torch.Tensor], *inputs: torch.Tensor) -> None:
    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)


def test_gradcheck_cubic_path_fill_and_stroke() -> None:
    pts = _t(
        [
            [3.3, 3.1],
            [8.2, 2.4],
            [12.7, 4.1],
            [13.1, 9.2],
            [11.8, 13.3],
            [6.1, 12.6],
            [2.7, 11.2],
            [4.1, 6.3],
        ]
    )
    fill = _t([0.3, 0.6, 0.9, 0.8])
    stroke = _t([0.9, 0.1, 0.2, 0.7])
    width = _t(1.3)

    def fn(
        pts: torch.Tensor, fill: torch.Tensor, stroke: torch.Tensor, width: torch.Tensor
    ) -> torch.Tensor:
        path = pydiffvg.Path(torch.tensor([2, 0, 2, 0]), pts, True, stroke_width=width)
        group = pydiffvg.ShapeGroup(
            torch.tensor([0]), fill, use_even_odd_rule=False, stroke_color=stroke
        )
        return pydiffvg.render([path], [group], width=16, height=16)

    _gradcheck(fn, pts, fill, stroke, width)


def test_gradcheck_even_odd_hole_and_transparent_overlap() -> None:
    outer = _t([[2.2, 2.6], [13.4, 1.9], [14.1, 13.3], [1.7, 12.8]])
    inner = _t([[5.3, 5.1], [10.6, 5.4], [8.2, 10.7]])
    quad = _t([[6.4, 0.7], [15.3, 8.1], [6.9, 15.2]])
    c0 = _t([0.2, 0.4, 0.9, 0.9])
    c1 = _t([0.9, 0.5, 0.1, 0.6])

    def fn(
        outer: torch.Tensor,
        inner: torch.Tensor,
        quad: torch.Tensor,
        c0: torch.Tensor,
        c1: torch.Tensor,
    ) -> torch.Tensor:
        shapes = [
            pydiffvg.Polygon(outer, True),
            pydiffvg.Polygon(inner, True),
            pydiffvg.Path(torch.tensor([1]), quad, False),
        ]
        groups = [
            pydiffvg.ShapeGroup(torch.tensor([0, 1]), c0, use_even_odd_rule=True),
            pydiffvg.ShapeGroup(torch.tensor([2]), c1, use_even_odd_rule=False),
        ]
        bg = torch.full((16, 16, 3), 0.5, dtype=F64)
        return pydiffvg.render(shapes, groups, width=16, height=16, background=bg)

    _gradcheck(fn, outer, inner, quad, c0, c1)


def test_gradcheck_primitives_and_gradient_paint() -> None:
    centre = _t([7.3, 8.6])
    radius = _t(4.7)
    eradius = _t([5.2, 3.1])
    lo = _t([1.3, 2.2])
    hi = _t([6.6, 13.9])
    begin = _t([0.4, 1.1])
    end = _t([15.2, 12.9])
    stops = _t([[1.0, 0.2, 0.1, 1.0], [0.1, 0.3, 0.9, 0.7]])

    def fn(  # noqa: PLR0917 - gradcheck passes inputs positionally
        centre: torch.Tensor,
        radius: torch.Tensor,
        eradius: torch.Tensor,
        lo: torch.Tensor,
        hi: torch.Tensor,
        begin: torch.Tensor,
        end: torch.Tensor,
        stops: torch.Tensor,
    ) -> torch.Tensor:
        shapes = [
            pydiffvg.Circle(radius, centre),
            pydiffvg.Ellipse(eradius, centre + 2.1),
            pydiffvg.Rect(lo, hi),
        ]
        grad = pydiffvg.LinearGradient(begin, end, torch.tensor([0.0, 1.0], dtype=F64), stops)
        groups = [
            pydiffvg.ShapeGroup(torch.tensor([0]), grad),
            pydiffvg.ShapeGroup(torch.tensor([1]), torch.tensor([0.1, 0.9, 0.2, 0.5], dtype=F64)),
            pydiffvg.ShapeGroup(
                torch.tensor([2]), None, stroke_color=torch.tensor([0.0, 0.0, 0.0, 1.0], dtype=F64)
            ),
        ]
        return pydiffvg.render(shapes, groups, width=16, height=16)

    _gradcheck(fn, centre, radius, eradius, lo, hi, begin, end, stops)


@pytest.mark.parametrize("seed", [0, 1])
def test_gradients_agree_with_finite_differences_on_realistic_scenes(seed: int) -> None:
    size = 48
    shapes, groups = random_scene(seed + 100, width=size, height=size, num_shapes=8, dtype=F64)
    for g in groups:
        if isinstance(g.fill_color, torch.Tensor):
            # Keep alpha inside (0, 1) so central differences do not straddle the clamp.
            g.fill_color[3] = g.fill_color[3].clamp(max=0.95)
    points = torch.cat([s.points for s in shapes])  # random_scene makes Paths only
    counts = [s.points.shape[0] for s in shapes]
    points.requires_grad_(True)
    for s, chunk in zip(shapes, torch.split(points, counts), strict=True):
        s.points = chunk
    colors = [g.fill_color for g in groups if isinstance(g.fill_color, torch.Tensor)]
    stroked = [i for i, g in enumerate(groups) if g.stroke_color is not None]
    widths = [shapes[int(groups[i].shape_ids[0])].stroke_width for i in stroked]
    for p in colors + widths:
        p.requires_grad_(True)
    gen = torch.Generator().manual_seed(seed)
    target = torch.rand(size, size, 4, generator=gen, dtype=F64)

    def loss() -> torch.Tensor:
        for s, chunk in zip(shapes, torch.split(points, counts), strict=True):
            s.points = chunk
        img = pydiffvg.render(shapes, groups, width=size, height=size)
        return ((img - target) ** 2).sum()

    grads = torch.autograd.grad(loss(), [points, *colors, *widths])
    sample = torch.randperm(points.numel(), generator=gen)[:40]
    with torch.no_grad():
        fd_points = central_differences(loss, points, 1e-3, sample)
        fd_colors = torch.cat([central_differences(loss, c, 1e-4) for c in colors])
    ours_points = grads[0].flatten()[sample]
    ours_colors = torch.cat([g.flatten() for g in grads[1 : 1 + len(colors)]])
    assert cosine(ours_points, fd_points) >= 0.9
    assert cosine(ours_colors, fd_colors) >= 0.99
    if widths:
        with torch.no_grad():
            fd_w = torch.cat([central_differences(loss, w, 1e-3) for w in widths])
        ours_w = torch.cat([g.reshape(1) for g in grads[1 + len(colors) :]])
        assert cosine(ours_w, fd_w) >= 0.9
