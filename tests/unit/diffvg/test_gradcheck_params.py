"""gradcheck (float64) for every shape type's parameters as DiffVG exposes them: corners,
centres and radii, points, stroke widths (scalar and per point), ``shape_to_canvas``,
and gradient paints' positions, offsets and stop colours.

Coordinates and stroke bands avoid pixel-grid lines (an edge lying exactly on one is a
kink of the pixel coverage, checked with a wider step in ``test_grid_lines.py``, and
where a pixel's alpha leaves 0 its straight colour jumps) and colours avoid 0 and 1
(compositing clamps there).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

import pydiffvg
from pydiffvg.shape import Shape, ShapeGroup

F64 = torch.float64
SIZE = 14


def _t(values: object) -> torch.Tensor:
    return torch.tensor(values, dtype=F64, requires_grad=True)


def _c(values: object) -> torch.Tensor:
    return torch.tensor(values, dtype=F64)


def _check(
    scene: Callable[..., tuple[list[Shape], list[ShapeGroup]]], *inputs: torch.Tensor
) -> None:
    def fn(*args: torch.Tensor) -> torch.Tensor:
        shapes, groups = scene(*args)
        return pydiffvg.render(shapes, groups, width=SIZE, height=SIZE)

    assert torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True)


def _stroked(shape: Shape, fill: object = None) -> tuple[list[Shape], list[ShapeGroup]]:
    group = pydiffvg.ShapeGroup(
        torch.tensor([0]),
        fill,  # type: ignore[arg-type]
        stroke_color=_c([0.8, 0.2, 0.1, 0.9]),
    )
    return [shape], [group]


def test_rect_corners_fill() -> None:
    def scene(lo: torch.Tensor, hi: torch.Tensor) -> tuple[list[Shape], list[ShapeGroup]]:
        rect = pydiffvg.Rect(lo, hi)
        return [rect], [pydiffvg.ShapeGroup(torch.tensor([0]), _c([0.1, 0.5, 0.9, 0.7]))]

    _check(scene, _t([2.3, 3.4]), _t([10.6, 9.7]))


def test_rect_stroke_width() -> None:
    # Corners outside the canvas: the stroke is the union (max) of the sides' bands, which
    # has a kink where two sides cover a cell equally; finite differences straddle it.
    def scene(w: torch.Tensor) -> tuple[list[Shape], list[ShapeGroup]]:
        return _stroked(pydiffvg.Rect(_c([-3.3, 2.4]), _c([17.6, 11.7]), stroke_width=w))

    _check(scene, _t(1.17))


def test_circle_centre_radius_and_stroke_width() -> None:
    def scene(
        r: torch.Tensor, c: torch.Tensor, w: torch.Tensor
    ) -> tuple[list[Shape], list[ShapeGroup]]:
        return _stroked(pydiffvg.Circle(r, c, stroke_width=w), _c([0.1, 0.5, 0.9, 0.7]))

    _check(scene, _t(4.3), _t([6.8, 7.1]), _t(0.9))


def test_ellipse_centre_radii_and_stroke_width() -> None:
    def scene(
        r: torch.Tensor, c: torch.Tensor, w: torch.Tensor
    ) -> tuple[list[Shape], list[ShapeGroup]]:
        return _stroked(pydiffvg.Ellipse(r, c, stroke_width=w))

    _check(scene, _t([5.2, 3.3]), _t([7.2, 6.9]), _t(1.1))


def test_polygon_points_and_polyline_stroke_width() -> None:
    def scene(pts: torch.Tensor, w: torch.Tensor) -> tuple[list[Shape], list[ShapeGroup]]:
        return _stroked(pydiffvg.Polygon(pts, is_closed=False, stroke_width=w))

    _check(scene, _t([[2.2, 3.1], [11.3, 2.6], [9.4, 11.8], [3.7, 10.2]]), _t(0.8))


def test_path_points_and_per_point_stroke_widths() -> None:
    def scene(pts: torch.Tensor, w: torch.Tensor) -> tuple[list[Shape], list[ShapeGroup]]:
        path = pydiffvg.Path(torch.tensor([2, 1]), pts, is_closed=False, stroke_width=w)
        return _stroked(path)

    pts = _t([[2.1, 9.3], [4.2, 1.7], [9.6, 2.4], [10.3, 6.8], [12.6, 11.9], [6.3, 12.2]])
    _check(scene, pts, _t([0.6, 0.9, 1.4, 1.1, 0.7, 1.2]))


def test_shape_to_canvas_transform() -> None:
    def scene(affine: torch.Tensor) -> tuple[list[Shape], list[ShapeGroup]]:
        mat = torch.cat([affine, _c([[0.0, 0.0, 1.0]])])
        path = pydiffvg.Path(
            torch.tensor([2, 0]), _c([[2.3, 2.2], [8.1, 0.9], [9.8, 6.4], [5.6, 8.7]]), True
        )
        group = pydiffvg.ShapeGroup(
            torch.tensor([0]),
            _c([0.2, 0.7, 0.4, 0.8]),
            stroke_color=_c([0.9, 0.1, 0.1, 1.0]),
            shape_to_canvas=mat,
        )
        return [path], [group]

    _check(scene, _t([[1.1, 0.15, 1.3], [-0.2, 1.05, 2.4]]))


def test_gradient_paint_positions_offsets_and_stops() -> None:
    def scene(  # noqa: PLR0917 - gradcheck passes inputs positionally
        centre: torch.Tensor,
        radius: torch.Tensor,
        r_offsets: torch.Tensor,
        r_stops: torch.Tensor,
        l_offsets: torch.Tensor,
        l_stops: torch.Tensor,
    ) -> tuple[list[Shape], list[ShapeGroup]]:
        radial = pydiffvg.RadialGradient(centre, radius, r_offsets, r_stops)
        linear = pydiffvg.LinearGradient(_c([1.2, 2.3]), _c([12.4, 10.9]), l_offsets, l_stops)
        shapes: list[Shape] = [
            pydiffvg.Circle(_c(5.6), _c([7.3, 6.8]), stroke_width=_c(1.2)),
        ]
        return shapes, [pydiffvg.ShapeGroup(torch.tensor([0]), radial, stroke_color=linear)]

    _check(
        scene,
        _t([6.6, 7.4]),
        _t([4.9, 3.8]),
        _t([0.15, 0.55, 0.9]),
        _t([[0.9, 0.2, 0.1, 0.9], [0.2, 0.8, 0.3, 0.6], [0.1, 0.3, 0.9, 0.8]]),
        _t([0.2, 0.8]),
        _t([[0.9, 0.8, 0.1, 0.9], [0.1, 0.2, 0.6, 0.7]]),
    )
