"""Outlines lying exactly on pixel-grid lines (integer coordinates, as DiffVG's example
programs start from): the coverage has a kink there, and the gradient must be the mean of
the two one-sided derivatives, which is what central finite differences and gradcheck
measure. Checked in every fill engine (sparse entries, autograd-dense, edge-driven stack)
and both fill rules; before pydiffvg.kinks, a rectangle on integer coordinates got a zero
gradient for its right/bottom sides and the stack lost level edges' y gradients.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import torch

import pydiffvg
from pydiffvg.shape import Shape, ShapeGroup
from tools.testing.diffvg import central_differences

F64 = torch.float64
SIZE = 20
ENGINES = ("sparse", "dense", "stack")
engine_module = importlib.import_module("pydiffvg.engine")


def _t(*values: float) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


@pytest.fixture
def engine_in_use(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Forces one fill engine and checks afterwards that it ran."""
    name: str = request.param
    used: list[str] = []
    if name == "sparse":
        monkeypatch.setattr(engine_module, "_dense_box", lambda *a, **k: None)
        real_entries = engine_module.fill_entries

        def entries(*a: Any, **k: Any) -> Any:
            used.append("sparse")
            return real_entries(*a, **k)

        monkeypatch.setattr(engine_module, "fill_entries", entries)
    if name == "dense":  # dense layers even where shapes cover little of the box
        monkeypatch.setattr(engine_module, "DENSE_MAX_RATIO", 100.0)
    for fn in ("fill_dense", "fill_stack"):
        real = getattr(engine_module, fn)

        def spy(*a: Any, _real: Callable[..., Any] = real, _fn: str = fn, **k: Any) -> Any:
            used.append(_fn.removeprefix("fill_"))
            return _real(*a, **k)

        monkeypatch.setattr(engine_module, fn, spy)
    yield name
    assert name in used


def _scene(
    points: list[torch.Tensor], even_odd: bool, engine: str
) -> tuple[list[Shape], list[ShapeGroup]]:
    """A grid-aligned rectangle and polygon over a background square. The dense engine is
    the one for chunks with strokes, so there the square gets a stroke (its geometry is
    fixed) and a linear gradient."""
    lo, hi, poly, tri = points
    back: Any = _t(0.2, 0.3, 0.9, 0.8)
    if engine == "dense":
        back = pydiffvg.LinearGradient(
            _t(0.0, 0.0),
            _t(float(SIZE), float(SIZE)),
            _t(0.0, 1.0),
            torch.tensor([[0.2, 0.3, 0.9, 0.8], [0.7, 0.3, 0.1, 0.9]], dtype=F64),
        )
    shapes: list[Shape] = [
        pydiffvg.Rect(_t(1.0, 1.0), _t(19.0, 19.0)),
        pydiffvg.Rect(lo, hi),
        pydiffvg.Polygon(poly, is_closed=True),
        pydiffvg.Polygon(tri, is_closed=True),
    ]
    stroke = _t(0.9, 0.9, 0.2, 0.5) if engine == "dense" else None
    groups = [
        pydiffvg.ShapeGroup(torch.tensor([0]), back, stroke_color=stroke),
        pydiffvg.ShapeGroup(torch.tensor([1]), _t(0.1, 0.8, 0.3, 0.7), use_even_odd_rule=even_odd),
        pydiffvg.ShapeGroup(
            torch.tensor([2, 3]), _t(0.9, 0.6, 0.2, 0.6), use_even_odd_rule=even_odd
        ),
    ]
    return shapes, groups


def _points() -> list[torch.Tensor]:
    # A rectangle and an L (convex and concave corners) on grid lines; a triangle whose
    # vertices lie on grid lines: one passed through in y, one a peak, one on both.
    poly = torch.tensor(
        [[4.0, 9.0], [10.0, 9.0], [10.0, 12.0], [7.0, 12.0], [7.0, 15.0], [4.0, 15.0]],
        dtype=F64,
    )
    tri = torch.tensor([[12.3, 10.0], [17.0, 13.4], [13.0, 18.0]], dtype=F64)
    return [_t(3.0, 2.0), _t(12.0, 7.0), poly, tri]


def _premultiplied(img: torch.Tensor) -> torch.Tensor:
    # Straight colour jumps where a pixel's alpha leaves 0; premultiplied colour does not.
    return torch.cat([img[..., :3] * img[..., 3:], img[..., 3:]], dim=-1)


def _assert_central_differences(
    loss: Callable[[], torch.Tensor], params: list[torch.Tensor]
) -> tuple[torch.Tensor, ...]:
    """Autograd's gradient of ``loss`` matches central differences; returns it."""
    grads = torch.autograd.grad(loss(), params)
    # Coverage below 1e-6 is dropped as rounding residue: steps must move more than that.
    for p, g in zip(params, grads, strict=True):
        with torch.no_grad():
            fd = central_differences(loss, p, 1e-4)
        assert torch.allclose(g.reshape(-1), fd, rtol=1e-3, atol=1e-3), (g.reshape(-1), fd)
    return grads


@pytest.mark.parametrize("engine_in_use", ENGINES, indirect=True)
@pytest.mark.parametrize("even_odd", [False, True])
def test_gradients_on_grid_lines_match_central_differences(
    engine_in_use: str, even_odd: bool
) -> None:
    params = [p.requires_grad_(True) for p in _points()]
    target = torch.rand(SIZE, SIZE, 4, generator=torch.Generator().manual_seed(3), dtype=F64)

    def loss() -> torch.Tensor:
        shapes, groups = _scene(params, even_odd, engine_in_use)
        img = pydiffvg.render(shapes, groups, width=SIZE, height=SIZE)
        return (_premultiplied(img) - target).pow(2).sum()

    _assert_central_differences(loss, params)


@pytest.mark.parametrize("engine_in_use", ENGINES, indirect=True)
@pytest.mark.parametrize("even_odd", [False, True])
def test_gradcheck_on_grid_lines(engine_in_use: str, even_odd: bool) -> None:
    params = tuple(p.requires_grad_(True) for p in _points())

    def fn(*args: torch.Tensor) -> torch.Tensor:
        shapes, groups = _scene(list(args), even_odd, engine_in_use)
        return _premultiplied(pydiffvg.render(shapes, groups, width=SIZE, height=SIZE))

    # eps above the 1e-6 coverage cut-off (see above).
    assert torch.autograd.gradcheck(fn, params, eps=1e-4, atol=1e-3, rtol=1e-2)


def test_a_stack_chunk_over_other_chunks_keeps_grid_line_gradients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A run of canvas-sized fills on integer coordinates above a small stroked shape and a
    # background image: the fills take a stack chunk of their own, composited over what
    # lies below. Beside an outline on a grid line the empty cell's derivative reaches
    # the background through the log-transmittance (the stack once zeroed it with the
    # cell's value).
    corners = [_t(2.0 + i, 3.0, 14.0 + i, 16.0 + i) for i in range(4)]
    for c in corners:
        c.requires_grad_(True)
    target = torch.rand(SIZE, SIZE, 4, generator=torch.Generator().manual_seed(5), dtype=F64)
    background = torch.rand(SIZE, SIZE, 3, generator=torch.Generator().manual_seed(6), dtype=F64)

    def grads() -> list[torch.Tensor]:
        shapes: list[Shape] = [pydiffvg.Rect(_t(1.0, 1.0), _t(4.0, 4.0))]
        shapes += [pydiffvg.Rect(c[:2], c[2:]) for c in corners]
        groups = [
            ShapeGroup(torch.tensor([0]), _t(0.2, 0.3, 0.9, 1.0), stroke_color=_t(1, 1, 0, 1))
        ]
        groups += [ShapeGroup(torch.tensor([i + 1]), _t(0.9, 0.2 * i, 0.1, 0.6)) for i in range(4)]
        img = pydiffvg.render(shapes, groups, width=SIZE, height=SIZE, background=background)
        return list(torch.autograd.grad((_premultiplied(img) - target).pow(2).sum(), corners))

    used: list[bool] = []
    real_stack = engine_module.fill_stack
    monkeypatch.setattr(
        engine_module, "fill_stack", lambda *a, **k: used.append(True) or real_stack(*a, **k)
    )
    layered = grads()
    assert used, "the fills were meant to take a stack chunk"
    monkeypatch.setattr(engine_module, "_dense_box", lambda *a, **k: None)
    sparse = grads()
    for g, ref in zip(layered, sparse, strict=True):
        assert torch.allclose(g, ref, atol=1e-6), (g, ref)


@pytest.mark.parametrize("engine_in_use", ENGINES, indirect=True)
def test_outlines_past_the_canvas_edges_match_central_differences(engine_in_use: str) -> None:
    # Pieces left of / above the canvas are clamped onto its edge lines: left of it they
    # still carry their height into every cell of their rows (and the y derivative of
    # their end points), above it nothing. A triangle and a quadrilateral reach past the
    # left and top edges, over a square.
    tri = torch.tensor([[-6.3, 2.2], [9.4, -4.1], [7.7, 13.6]], dtype=F64, requires_grad=True)
    quad = torch.tensor(
        [[0.6, 8.5], [-3.2, 15.1], [11.3, 18.2], [14.6, 6.9]], dtype=F64, requires_grad=True
    )
    params = [tri, quad]
    target = torch.rand(SIZE, SIZE, 4, generator=torch.Generator().manual_seed(7), dtype=F64)

    def loss() -> torch.Tensor:
        shapes: list[Shape] = [
            pydiffvg.Rect(_t(1.0, 1.0), _t(19.0, 19.0)),
            pydiffvg.Polygon(tri, is_closed=True),
            pydiffvg.Polygon(quad, is_closed=True),
        ]
        stroke = _t(0.9, 0.9, 0.2, 0.5) if engine_in_use == "dense" else None
        groups = [
            ShapeGroup(torch.tensor([0]), _t(0.2, 0.3, 0.9, 0.8), stroke_color=stroke),
            ShapeGroup(torch.tensor([1]), _t(0.1, 0.8, 0.3, 0.7)),
            ShapeGroup(torch.tensor([2]), _t(0.9, 0.6, 0.2, 0.6), use_even_odd_rule=True),
        ]
        img = pydiffvg.render(shapes, groups, width=SIZE, height=SIZE)
        return (_premultiplied(img) - target).pow(2).sum()

    grads = _assert_central_differences(loss, params)
    # The vertices outside the canvas move outlines inside it: their gradient is not 0.
    assert float(grads[0][0].abs().sum()) > 1e-3
