"""The cases of DiffVG's example programs (``apps/single_*.py``), restated as small
optimisations through DiffVG's calling convention: render a target, move the parameters
away, and Adam must bring the image loss down at least 10x.

Parameters are stored divided by the canvas size (as those programs do) so that one
learning rate suits positions, sizes and colours.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

import pydiffvg
from pydiffvg.shape import Shape, ShapeGroup

SIZE = 32
Params = dict[str, torch.Tensor]
Scene = tuple[list[Shape], list[ShapeGroup]]


def _t(*values: object) -> torch.Tensor:
    return torch.tensor(values if len(values) > 1 else values[0], dtype=torch.float32)


def _image(build: Callable[[Params], Scene], params: Params, sdf: bool) -> torch.Tensor:
    shapes, groups = build(params)
    kind = pydiffvg.OutputType.sdf if sdf else pydiffvg.OutputType.color
    args = pydiffvg.RenderFunction.serialize_scene(SIZE, SIZE, shapes, groups, output_type=kind)
    img = pydiffvg.RenderFunction.apply(SIZE, SIZE, 2, 2, 0, None, *args)
    return img / SIZE if sdf else img


def _fit(
    build: Callable[[Params], Scene],
    init: Params,
    target: Params,
    *,
    steps: int,
    lr: float = 2e-2,
    sdf: bool = False,
) -> tuple[float, float]:
    with torch.no_grad():
        goal = _image(build, target, sdf)
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = torch.optim.Adam(list(params.values()), lr=lr)
    first = None
    for _ in range(steps):
        opt.zero_grad()
        loss = (_image(build, params, sdf) - goal).pow(2).sum()
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    with torch.no_grad():
        last = float((_image(build, params, sdf) - goal).pow(2).sum())
    assert first is not None
    return first, last


def _fill(shape: Shape, color: torch.Tensor, **kw: object) -> Scene:
    return [shape], [pydiffvg.ShapeGroup(torch.tensor([0]), color, **kw)]  # type: ignore[arg-type]


def _circle(p: Params) -> Scene:
    return _fill(pydiffvg.Circle(p["r"] * SIZE, p["c"] * SIZE), p["color"])


def _circle_outline(p: Params) -> Scene:
    circle = pydiffvg.Circle(p["r"] * SIZE, p["c"] * SIZE, stroke_width=p["w"] * SIZE)
    return [circle], [pydiffvg.ShapeGroup(torch.tensor([0]), p["color"], stroke_color=p["stroke"])]


def _ellipse(p: Params) -> Scene:
    return _fill(pydiffvg.Ellipse(p["r"] * SIZE, p["c"] * SIZE), p["color"])


def _ellipse_transform(p: Params) -> Scene:
    ellipse = pydiffvg.Ellipse(_t(0.25, 0.125) * SIZE, _t(0.5, 0.5) * SIZE)
    affine = torch.cat([p["affine"] * torch.tensor([[1, 1, SIZE]]), _t([[0.0, 0.0, 1.0]])])
    return _fill(ellipse, p["color"], shape_to_canvas=affine)


_CUBIC_NCP = torch.tensor([2, 2])


def _curve(p: Params) -> Scene:
    path = pydiffvg.Path(_CUBIC_NCP, p["pts"] * SIZE, is_closed=True)
    return _fill(path, p["color"])


def _curve_outline(p: Params) -> Scene:
    path = pydiffvg.Path(_CUBIC_NCP, p["pts"] * SIZE, is_closed=True, stroke_width=p["w"] * SIZE)
    return [path], [pydiffvg.ShapeGroup(torch.tensor([0]), p["color"], stroke_color=p["stroke"])]


def _open_stroke(p: Params, width: torch.Tensor) -> Scene:
    path = pydiffvg.Path(torch.tensor([2, 2]), p["pts"] * SIZE, is_closed=False, stroke_width=width)
    group = pydiffvg.ShapeGroup(torch.tensor([0]), None, stroke_color=p["stroke"])
    return [path], [group]


def _open_curve(p: Params) -> Scene:
    return _open_stroke(p, _t(2.0))


def _open_curve_thickness(p: Params) -> Scene:
    return _open_stroke(p, p["w"] * SIZE)


def _polygon(p: Params) -> Scene:
    return _fill(pydiffvg.Polygon(p["pts"] * SIZE, True), p["color"])


def _rect(p: Params) -> Scene:
    return _fill(pydiffvg.Rect(p["lo"] * SIZE, p["hi"] * SIZE), p["color"])


def _gradient(p: Params) -> Scene:
    paint = pydiffvg.LinearGradient(p["begin"] * SIZE, p["end"] * SIZE, _t(0.0, 1.0), p["stops"])
    return _fill(pydiffvg.Circle(p["r"] * SIZE, p["c"] * SIZE), paint)  # type: ignore[arg-type]


_PLANE = "M48,24c0-1.9-1.7-3.6-3.6-3.6H31.2L19.2,1.2h-4.8l6,19.2H7.2l-3.6-4.8H0L2.4,24L0,32.4h3.6l3.6-4.8h13.2l-6,19.2h4.8l12-19.2h13.2C46.3,27.6,48,25.9,48,24z"  # noqa: E501
_PLANE_POINTS = pydiffvg.from_svg_path(_PLANE)[0].points / SIZE


def _path(p: Params) -> Scene:
    path = pydiffvg.from_svg_path(_PLANE)[0]
    path.points = p["pts"] * SIZE
    return _fill(path, p["color"])


_CURVE = _t([[0.45, 0.15], [0.7, 0.3], [0.45, 0.75], [0.3, 0.85], [0.3, 0.6], [0.6, 0.25]])
_OPEN = _t([[0.1, 0.5], [0.3, 0.1], [0.5, 0.9], [0.6, 0.5], [0.7, 0.2], [0.8, 0.3], [0.9, 0.6]])
_GREEN = _t(0.3, 0.6, 0.3, 1.0)
_PURPLE = _t(0.3, 0.2, 0.5, 1.0)
_noise = torch.Generator().manual_seed(5)


def _jitter(points: torch.Tensor, amount: float) -> torch.Tensor:
    return points + (torch.rand(points.shape, generator=_noise) * 2 - 1) * amount


CASES: dict[str, tuple[Callable[[Params], Scene], Params, Params, int, bool]] = {
    # name: (scene, target, start, steps, sdf output)
    "circle": (
        _circle,
        {"r": _t(0.16), "c": _t(0.5, 0.5), "color": _GREEN},
        {"r": _t(0.1), "c": _t(0.42, 0.56), "color": _PURPLE},
        60,
        False,
    ),
    "circle_outline": (
        _circle_outline,
        {
            "r": _t(0.2),
            "c": _t(0.5, 0.5),
            "color": _GREEN,
            "stroke": _t(0.6, 0.3, 0.6, 0.8),
            "w": _t(0.04),
        },
        {
            "r": _t(0.14),
            "c": _t(0.44, 0.55),
            "color": _PURPLE,
            "stroke": _t(0.4, 0.7, 0.5, 0.5),
            "w": _t(0.08),
        },
        100,
        False,
    ),
    "ellipse": (
        _ellipse,
        {"r": _t(0.25, 0.12), "c": _t(0.5, 0.5), "color": _GREEN},
        {"r": _t(0.15, 0.2), "c": _t(0.45, 0.55), "color": _PURPLE},
        80,
        False,
    ),
    "ellipse_transform": (
        _ellipse_transform,
        {"affine": _t([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]), "color": _GREEN},
        {"affine": _t([[0.8, 0.3, 0.05], [0.2, 1.1, -0.05]]), "color": _PURPLE},
        100,
        False,
    ),
    "curve": (
        _curve,
        {"pts": _CURVE, "color": _GREEN},
        {"pts": _jitter(_CURVE, 0.06), "color": _PURPLE},
        100,
        False,
    ),
    "curve_outline": (
        _curve_outline,
        {"pts": _CURVE, "color": _GREEN, "stroke": _t(0.6, 0.3, 0.6, 0.8), "w": _t(0.03)},
        {
            "pts": _jitter(_CURVE, 0.05),
            "color": _PURPLE,
            "stroke": _t(0.4, 0.7, 0.5, 0.5),
            "w": _t(0.06),
        },
        120,
        False,
    ),
    "open_curve": (
        _open_curve,
        {"pts": _OPEN, "stroke": _GREEN},
        {"pts": _jitter(_OPEN, 0.04), "stroke": _PURPLE},
        100,
        False,
    ),
    "open_curve_thickness": (
        _open_curve_thickness,
        {"pts": _OPEN, "stroke": _GREEN, "w": _t(0.02, 0.03, 0.06, 0.02, 0.04, 0.05, 0.02)},
        {"pts": _jitter(_OPEN, 0.03), "stroke": _PURPLE, "w": torch.full((7,), 0.04)},
        120,
        False,
    ),
    "stroke": (
        _open_curve_thickness,
        {"pts": _OPEN, "stroke": _GREEN, "w": _t(0.04)},
        {"pts": _jitter(_OPEN, 0.04), "stroke": _PURPLE, "w": _t(0.02)},
        100,
        False,
    ),
    "polygon": (
        _polygon,
        {"pts": _t([[0.2, 0.2], [0.8, 0.3], [0.7, 0.8], [0.3, 0.7]]), "color": _GREEN},
        {"pts": _t([[0.25, 0.3], [0.7, 0.2], [0.8, 0.7], [0.2, 0.75]]), "color": _PURPLE},
        100,
        False,
    ),
    "rect": (
        _rect,
        {"lo": _t(0.21, 0.23), "hi": _t(0.68, 0.71), "color": _GREEN},
        {"lo": _t(0.32, 0.13), "hi": _t(0.52, 0.41), "color": _PURPLE},
        100,
        False,
    ),
    "rect_from_grid_lines": (  # as single_rect.py: the start has integer corners
        _rect,
        {"lo": _t(0.21, 0.23), "hi": _t(0.68, 0.71), "color": _GREEN},
        {"lo": _t(10 / 32, 4 / 32), "hi": _t(17 / 32, 13 / 32), "color": _PURPLE},
        100,
        False,
    ),
    "gradient": (
        _gradient,
        {
            "r": _t(0.3),
            "c": _t(0.5, 0.5),
            "begin": _t(0.3, 0.3),
            "end": _t(0.7, 0.7),
            "stops": _t([[0.9, 0.3, 0.2, 1.0], [0.1, 0.3, 0.9, 1.0]]),
        },
        {
            "r": _t(0.22),
            "c": _t(0.45, 0.55),
            "begin": _t(0.4, 0.4),
            "end": _t(0.6, 0.6),
            "stops": _t([[0.4, 0.8, 0.4, 1.0], [0.5, 0.3, 0.6, 1.0]]),
        },
        100,
        False,
    ),
    "path": (
        _path,
        {"pts": _PLANE_POINTS, "color": _GREEN},
        {"pts": _jitter(_PLANE_POINTS, 0.04), "color": _PURPLE},
        100,
        False,
    ),
    "circle_sdf": (
        _circle,
        {"r": _t(0.16), "c": _t(0.5, 0.5), "color": _GREEN},
        {"r": _t(0.1), "c": _t(0.42, 0.56), "color": _PURPLE},
        60,
        True,
    ),
    "curve_sdf": (
        _curve,
        {"pts": _CURVE, "color": _GREEN},
        {"pts": _jitter(_CURVE, 0.06), "color": _PURPLE},
        80,
        True,
    ),
    "path_sdf": (
        _path,
        {"pts": _PLANE_POINTS, "color": _GREEN},
        {"pts": _jitter(_PLANE_POINTS, 0.04), "color": _PURPLE},
        80,
        True,
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_upstream_case_converges(name: str) -> None:
    build, target, start, steps, sdf = CASES[name]
    first, last = _fit(build, start, target, steps=steps, sdf=sdf)
    assert last * 10 <= first, f"{name}: loss {first:.4g} -> {last:.4g}"


def test_rect_on_pixel_grid_lines_has_gradients() -> None:
    lo = torch.tensor([8.0, 4.0], requires_grad=True)
    hi = torch.tensor([20.0, 12.0], requires_grad=True)
    img = pydiffvg.render(*_fill(pydiffvg.Rect(lo, hi), _GREEN), width=32, height=32)
    img[..., 3].sum().backward()
    assert lo.grad is not None and hi.grad is not None
    # Growing the rectangle by one pixel in x adds one column of its height, and so on.
    assert torch.allclose(hi.grad, torch.tensor([8.0, 12.0]), atol=1e-3)
    assert torch.allclose(lo.grad, torch.tensor([-8.0, -12.0]), atol=1e-3)
