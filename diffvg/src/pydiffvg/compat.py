"""DiffVG's calling convention: ``RenderFunction.serialize_scene`` / ``apply``.

Scripts written for DiffVG flatten a scene into an argument list and call
``RenderFunction.apply(width, height, samples_x, samples_y, seed, background, *args)``;
this module maps that onto :func:`pydiffvg.render.render`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import torch

from pydiffvg.device import get_device
from pydiffvg.render import render
from pydiffvg.shape import (
    Circle,
    Color,
    Ellipse,
    LinearGradient,
    Path,
    Polygon,
    RadialGradient,
    Rect,
    Shape,
    ShapeGroup,
)

__all__ = ["PixelFilter", "RenderFunction", "set_print_timing"]

_print_timing = False
_log = logging.getLogger("pydiffvg")


def set_print_timing(value: bool) -> None:
    """Log the wall time of each ``RenderFunction.apply`` call (logger ``pydiffvg``)."""
    global _print_timing
    _print_timing = bool(value)


class PixelFilter:
    """DiffVG's pixel filter descriptor (only the box filter of radius 0.5 is rendered)."""

    def __init__(self, type: Any = "box", radius: Any = 0.5) -> None:
        self.type = type
        self.radius = radius


class RenderFunction:
    """DiffVG-compatible entry point: ``serialize_scene`` then ``apply``.

    ``apply`` is differentiable through ordinary autograd: the serialized argument list
    holds the scene's own tensors, so gradients reach them.
    """

    @staticmethod
    def serialize_scene(  # noqa: PLR0917 - DiffVG's signature
        canvas_width: int,
        canvas_height: int,
        shapes: Sequence[Shape],
        shape_groups: Sequence[ShapeGroup],
        filter: Any = None,
        output_type: Any = None,
        use_prefiltering: bool = False,
        eval_positions: Any = None,
    ) -> list[Any]:
        """Flatten a scene into a list of plain values and tensors."""
        args: list[Any] = [int(canvas_width), int(canvas_height), len(shapes), len(shape_groups)]
        for shape in shapes:
            if isinstance(shape, Path):
                args += [
                    "path",
                    shape.num_control_points,
                    shape.points,
                    shape.is_closed,
                    shape.stroke_width,
                ]
            elif isinstance(shape, Polygon):
                args += ["polygon", shape.points, shape.is_closed, shape.stroke_width]
            elif isinstance(shape, Rect):
                args += ["rect", shape.p_min, shape.p_max, shape.stroke_width]
            elif isinstance(shape, Circle):
                args += ["circle", shape.radius, shape.center, shape.stroke_width]
            elif isinstance(shape, Ellipse):
                args += ["ellipse", shape.radius, shape.center, shape.stroke_width]
            else:
                raise TypeError(f"unsupported shape type {type(shape).__name__}")
        for group in shape_groups:
            args.append(group.shape_ids)
            _serialize_color(args, group.fill_color)
            _serialize_color(args, group.stroke_color)
            args += [group.use_even_odd_rule, group.shape_to_canvas]
        return args

    @staticmethod
    def apply(  # noqa: PLR0917 - DiffVG's signature
        width: int,
        height: int,
        num_samples_x: int,
        num_samples_y: int,
        seed: int,
        background_image: torch.Tensor | None,
        *args: Any,
    ) -> torch.Tensor:
        """Render serialized scene ``args`` to ``[height, width, 4]`` on ``get_device()``."""
        del seed  # coverage is analytic: there is no sampling noise to seed
        if num_samples_x < 1 or num_samples_y < 1:
            raise ValueError("num_samples_x and num_samples_y must be >= 1")
        canvas_width, canvas_height, shapes, groups = _deserialize(list(args))
        scale = width / canvas_width
        if abs(height / canvas_height - scale) > 1e-9:
            raise ValueError("output size must keep the canvas aspect ratio")
        start = time.perf_counter()
        image = render(
            shapes,
            groups,
            width=int(width),
            height=int(height),
            samples=max(num_samples_x, num_samples_y),
            background=background_image,
            device=get_device(),
            scale=scale,
        )
        if _print_timing:
            _log.info("render: %.4f s", time.perf_counter() - start)
        return image


def _serialize_color(args: list[Any], color: Color | None) -> None:
    if color is None:
        args.append("none")
    elif isinstance(color, LinearGradient):
        args += ["linear", color.begin, color.end, color.offsets, color.stop_colors]
    elif isinstance(color, RadialGradient):
        args += ["radial", color.center, color.radius, color.offsets, color.stop_colors]
    else:
        args += ["constant", color]


def _deserialize(args: list[Any]) -> tuple[int, int, list[Shape], list[ShapeGroup]]:
    try:
        canvas_width, canvas_height, num_shapes, num_groups = args[:4]
        pos = 4

        def take(n: int) -> list[Any]:
            nonlocal pos
            out = args[pos : pos + n]
            if len(out) != n:
                raise IndexError("truncated scene arguments")
            pos += n
            return out

        shapes: list[Shape] = []
        for _ in range(num_shapes):
            (kind,) = take(1)
            if kind == "path":
                ncp, pts, closed, sw = take(4)
                shapes.append(Path(ncp, pts, closed, sw))
            elif kind == "polygon":
                pts, closed, sw = take(3)
                shapes.append(Polygon(pts, closed, sw))
            elif kind == "rect":
                lo, hi, sw = take(3)
                shapes.append(Rect(lo, hi, sw))
            elif kind == "circle":
                r, c, sw = take(3)
                shapes.append(Circle(r, c, sw))
            elif kind == "ellipse":
                r, c, sw = take(3)
                shapes.append(Ellipse(r, c, sw))
            else:
                raise ValueError(f"unknown shape tag {kind!r}")

        def color() -> Color | None:
            (kind,) = take(1)
            if kind == "none":
                return None
            if kind == "constant":
                return take(1)[0]
            if kind == "linear":
                return LinearGradient(*take(4))
            if kind == "radial":
                return RadialGradient(*take(4))
            raise ValueError(f"unknown colour tag {kind!r}")

        groups: list[ShapeGroup] = []
        for _ in range(num_groups):
            (ids,) = take(1)
            fill = color()
            stroke = color()
            even_odd, mat = take(2)
            groups.append(ShapeGroup(ids, fill, even_odd, stroke, mat))
    except (ValueError, IndexError, TypeError) as exc:
        raise ValueError(
            f"malformed scene arguments (use RenderFunction.serialize_scene): {exc}"
        ) from exc
    return int(canvas_width), int(canvas_height), shapes, groups
