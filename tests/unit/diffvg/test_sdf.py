"""Signed distance output (``OutputType.sdf``): values against closed forms, DiffVG's sign
convention, and gradients against central finite differences."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
import torch

import pydiffvg
from pydiffvg.geometry import flatten_scene
from pydiffvg.sdf import sdf_at
from pydiffvg.shape import Shape, ShapeGroup
from pydiffvg.testing import random_scene
from tools.testing.diffvg import central_differences

F64 = torch.float64
SDF = pydiffvg.OutputType.sdf


def _sdf(
    shapes: list[Shape],
    groups: list[ShapeGroup],
    size: int = 32,
    *,
    out: int | None = None,
    samples: int = 1,
    positions: torch.Tensor | None = None,
) -> torch.Tensor:
    args = pydiffvg.RenderFunction.serialize_scene(
        size, size, shapes, groups, output_type=SDF, eval_positions=positions
    )
    n = out or size
    return pydiffvg.RenderFunction.apply(n, n, samples, samples, 0, None, *args)


def _group(color: torch.Tensor | None = None, **kw: object) -> ShapeGroup:
    fill = torch.tensor([0.3, 0.6, 0.3, 1.0]) if color is None else color
    return pydiffvg.ShapeGroup(torch.tensor([0]), fill, **kw)  # type: ignore[arg-type]


def test_circle_sdf_is_distance_to_the_circle_negative_inside() -> None:
    img = _sdf([pydiffvg.Circle(torch.tensor(9.0), torch.tensor([15.0, 17.0]))], [_group()])
    assert img.shape == (32, 32, 1)
    ys, xs = torch.meshgrid(torch.arange(32) + 0.5, torch.arange(32) + 0.5, indexing="ij")
    exact = torch.hypot(xs - 15.0, ys - 17.0) - 9.0
    # The outline is flattened to 0.02 px chord error.
    assert (img[..., 0] - exact).abs().max() < 0.03
    assert img[17, 15, 0] < -8.0 and img[0, 31, 0] > 10.0


def test_samples_average_cell_centres_and_units_are_canvas_pixels() -> None:
    circle = pydiffvg.Circle(torch.tensor(9.0), torch.tensor([16.0, 16.0]))
    fine = _sdf([circle], [_group()], samples=2)
    half = _sdf([circle], [_group()], out=16)
    ys, xs = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
    cells = [(0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75)]
    exact = sum(torch.hypot(xs + dx - 16, ys + dy - 16) - 9 for dx, dy in cells) / 4
    assert (fine[..., 0] - exact).abs().max() < 0.03
    # A 16x16 output of a 32x32 canvas samples every other canvas pixel corner, in canvas px.
    corner = torch.hypot(2 * torch.arange(16.0)[:, None] + 1 - 16, 2 * torch.arange(16.0) + 1 - 16)
    assert (half[..., 0] - (corner - 9)).abs().max() < 0.03


def test_eval_positions_and_rect_distances() -> None:
    rect = pydiffvg.Rect(torch.tensor([4.0, 6.0]), torch.tensor([20.0, 14.0]))
    pts = torch.tensor([[12.0, 10.0], [12.0, 2.0], [25.0, 10.0], [23.0, 18.0], [5.0, 10.0]])
    got = _sdf([rect], [_group()], positions=pts)
    want = torch.tensor([-4.0, 4.0, 5.0, 5.0, -1.0])
    assert got.shape == (5, 1)
    assert torch.allclose(got[:, 0], want, atol=1e-4)


def test_sign_follows_fill_rule_and_stroke_only_groups_are_unsigned() -> None:
    outer = pydiffvg.Polygon(
        torch.tensor([[2.0, 2.0], [30.0, 2.0], [30.0, 30.0], [2.0, 30.0]]), True
    )
    inner = pydiffvg.Polygon(
        torch.tensor([[10.0, 10.0], [22.0, 10.0], [22.0, 22.0], [10.0, 22.0]]), True
    )
    centre = torch.tensor([[16.0, 16.0]])
    even_odd = pydiffvg.ShapeGroup(torch.tensor([0, 1]), torch.ones(4), use_even_odd_rule=True)
    non_zero = pydiffvg.ShapeGroup(torch.tensor([0, 1]), torch.ones(4), use_even_odd_rule=False)
    stroke_only = pydiffvg.ShapeGroup(torch.tensor([0, 1]), None, stroke_color=torch.ones(4))
    assert _sdf([outer, inner], [even_odd], positions=centre).item() == pytest.approx(6.0)
    assert _sdf([outer, inner], [non_zero], positions=centre).item() == pytest.approx(-6.0)
    assert _sdf([outer, inner], [stroke_only], positions=centre).item() == pytest.approx(6.0)


def test_nearest_outline_wins_across_groups_and_open_paths_do_not_close() -> None:
    far = pydiffvg.Circle(torch.tensor(4.0), torch.tensor([6.0, 6.0]))
    line = pydiffvg.Path(
        torch.tensor([0]), torch.tensor([[10.0, 20.0], [30.0, 20.0]]), is_closed=False
    )
    groups = [
        pydiffvg.ShapeGroup(torch.tensor([0]), torch.ones(4)),
        pydiffvg.ShapeGroup(torch.tensor([1]), None, stroke_color=torch.ones(4)),
    ]
    got = _sdf([far, line], groups, positions=torch.tensor([[20.0, 23.0], [6.0, 7.0], [5.0, 20.0]]))
    assert torch.allclose(got[:, 0], torch.tensor([3.0, -3.0, 5.0]), atol=0.03)  # flattened circle


def test_empty_scene_is_zero() -> None:
    assert torch.equal(_sdf([], []), torch.zeros(32, 32, 1))


def _scenes() -> dict[
    str, tuple[list[torch.Tensor], Callable[..., tuple[list[Shape], list[ShapeGroup]]]]
]:
    def circle(r: torch.Tensor, c: torch.Tensor) -> tuple[list[Shape], list[ShapeGroup]]:
        return [pydiffvg.Circle(r, c)], [_group()]

    def ellipse(
        r: torch.Tensor, c: torch.Tensor, m: torch.Tensor
    ) -> tuple[list[Shape], list[ShapeGroup]]:
        mat = torch.cat([m, torch.tensor([[0.0, 0.0, 1.0]], dtype=F64)])
        return [pydiffvg.Ellipse(r, c)], [_group(shape_to_canvas=mat)]

    def path(p: torch.Tensor) -> tuple[list[Shape], list[ShapeGroup]]:
        return [pydiffvg.Path(torch.tensor([2, 1]), p, is_closed=False)], [
            pydiffvg.ShapeGroup(torch.tensor([0]), None, stroke_color=torch.ones(4))
        ]

    def rect(lo: torch.Tensor, hi: torch.Tensor) -> tuple[list[Shape], list[ShapeGroup]]:
        return [pydiffvg.Rect(lo, hi)], [_group()]

    def t(v: object) -> torch.Tensor:
        return torch.tensor(v, dtype=F64)

    return {
        "circle": ([t(7.3), t([15.2, 16.7])], circle),
        "ellipse_transformed": (
            [t([8.1, 4.3]), t([15.4, 14.2]), t([[1.1, 0.2, 0.7], [-0.15, 0.9, 1.3]])],
            ellipse,
        ),
        "open_path": (
            [t([[4.2, 20.1], [9.7, 3.3], [20.5, 6.1], [27.4, 25.8], [13.3, 27.2], [8.1, 23.4]])],
            path,
        ),
        "rect": ([t([5.3, 6.2]), t([24.6, 19.45])], rect),  # no pixel centre on a medial axis
    }


@pytest.mark.parametrize("name", sorted(_scenes()))
def test_sdf_gradients_match_finite_differences(name: str) -> None:
    params, build = _scenes()[name]
    weights = torch.rand(32, 32, 1, generator=torch.Generator().manual_seed(3), dtype=F64)

    def loss() -> torch.Tensor:
        return (_sdf(*build(*params)) * weights).sum()

    for p in params:
        p.requires_grad_(True)
    loss().backward()
    for p in params:
        assert p.grad is not None
        fd = central_differences(loss, p, 1e-4)
        # The nearest piece changes with the parameters on a few medial-axis pixels; the
        # flattened outline moves with them, so agreement is close but not to rounding.
        assert torch.allclose(p.grad.view(-1), fd, rtol=2e-3, atol=2e-3 * float(fd.abs().max())), (
            name,
            p.grad.view(-1),
            fd,
        )


def test_render_grad_is_the_screen_space_derivative_of_the_sdf() -> None:
    pts = torch.tensor([[4.0, 16.0], [10.0, 16.0], [22.0, 16.0], [28.0, 16.0]], dtype=F64)
    path = pydiffvg.Path(torch.tensor([2]), pts, is_closed=False, stroke_width=torch.tensor(3.0))
    groups = [pydiffvg.ShapeGroup(torch.tensor([0]), None, stroke_color=torch.ones(4))]
    args = pydiffvg.RenderFunction.serialize_scene(32, 32, [path], groups, output_type=SDF)
    weights = torch.rand(32, 32, 1, generator=torch.Generator().manual_seed(1), dtype=F64)
    grad = pydiffvg.RenderFunction.render_grad(weights, 32, 32, 1, 1, 0, None, *args)
    assert grad.shape == (32, 32, 2)
    # Translating the scene by t changes each pixel by -(d sdf / d p) . t: measure it by
    # moving the path itself.
    for axis in (0, 1):
        shift = torch.zeros(2, dtype=F64)
        shift[axis] = 1e-4
        moved = []
        for sign in (1, -1):
            p = pydiffvg.Path(torch.tensor([2]), pts + sign * shift, False, torch.tensor(3.0))
            moved.append(_sdf([p], groups))
        fd = (moved[0] - moved[1]) / 2e-4 * weights
        assert torch.allclose(grad[..., axis], fd[..., 0], atol=1e-5)
    # Below a horizontal line the distance grows with y: moving the scene down lowers it.
    assert math.isclose(float(grad[20, 16, 1]), -float(weights[20, 16, 0]), rel_tol=1e-6)


def test_render_grad_of_colour_output_says_so() -> None:
    args = pydiffvg.RenderFunction.serialize_scene(
        8, 8, [pydiffvg.Circle(torch.tensor(2.0), torch.tensor([4.0, 4.0]))], [_group()]
    )
    with pytest.raises(NotImplementedError, match=r"OutputType\.sdf"):
        pydiffvg.RenderFunction.render_grad(torch.ones(8, 8, 4), 8, 8, 1, 1, 0, None, *args)


def test_eval_positions_need_sdf_output() -> None:
    with pytest.raises(ValueError, match="eval_positions"):
        pydiffvg.RenderFunction.serialize_scene(
            8, 8, [], [], eval_positions=torch.tensor([[1.0, 2.0]])
        )


def test_tiled_search_matches_brute_force_on_a_random_scene() -> None:
    shapes, groups = random_scene(4, width=64, height=64, num_shapes=12)
    pieces = flatten_scene(shapes, groups, device=torch.device("cpu"), dtype=F64)
    points = torch.rand(4000, 2, generator=torch.Generator().manual_seed(2), dtype=F64) * 80 - 8
    has_fill = torch.tensor([g.fill_color is not None for g in groups])
    even_odd = torch.tensor([g.use_even_odd_rule for g in groups])
    got = sdf_at(points, pieces, has_fill=has_fill, even_odd=even_odd)
    outline = pieces.stroke
    a, b = pieces.a[outline], pieces.b[outline]
    ab = b - a
    rel = points[:, None] - a
    t = ((rel * ab).sum(-1) / (ab * ab).sum(-1)).clamp(0, 1)
    brute = (rel - t[..., None] * ab).norm(dim=-1).min(dim=1).values
    assert torch.allclose(got.abs(), brute, atol=1e-9)
