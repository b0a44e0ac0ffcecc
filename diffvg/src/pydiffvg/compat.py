"""DiffVG's calling convention: ``RenderFunction.serialize_scene`` / ``apply``.

Scripts written for DiffVG flatten a scene into an argument list and call
``RenderFunction.apply(width, height, samples_x, samples_y, seed, background, *args)``;
this module maps that onto :func:`pydiffvg.render.render`.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

import torch

from pydiffvg.device import get_device
from pydiffvg.render import render
from pydiffvg.sdf import render_sdf, sample_grid
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

__all__ = ["OutputType", "PixelFilter", "RenderFunction", "set_print_timing"]

_print_timing = False
_log = logging.getLogger("pydiffvg")


def set_print_timing(value: bool) -> None:
    """Log the wall time of each ``RenderFunction.apply`` call (logger ``pydiffvg``)."""
    global _print_timing
    _print_timing = bool(value)


class OutputType(IntEnum):
    """What ``RenderFunction.apply`` returns: RGBA ``[H, W, 4]`` or a signed distance
    field ``[H, W, 1]`` (canvas pixels, negative inside a filled group)."""

    color = 1
    sdf = 2


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
        """Flatten a scene into a list of plain values and tensors.

        ``output_type`` is an :class:`OutputType` (default colour); ``eval_positions``
        ``[M, 2]`` (output pixels) asks the SDF output for those points only.
        ``filter`` and ``use_prefiltering`` are accepted and ignored: fill coverage is
        always the exact box-filtered area.
        """
        del filter, use_prefiltering
        kind = OutputType.color if output_type is None else OutputType(output_type)
        positions = None
        if eval_positions is not None and torch.as_tensor(eval_positions).numel() > 0:
            positions = torch.as_tensor(eval_positions).reshape(-1, 2)
            if kind != OutputType.sdf:
                raise ValueError("eval_positions are only supported with OutputType.sdf")
        args: list[Any] = [
            int(canvas_width),
            int(canvas_height),
            len(shapes),
            len(shape_groups),
            kind,
            positions,
        ]
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
        """Render serialized scene ``args`` on ``get_device()``: RGBA ``[height, width, 4]``
        in DiffVG's colour convention (:func:`_diffvg_colour`), or for ``OutputType.sdf``
        the signed distance ``[height, width, 1]`` (``[M, 1]`` at ``eval_positions``)."""
        del seed  # coverage is analytic and SDF samples sit at cell centres: no noise
        scene = _deserialize(list(args))
        start = time.perf_counter()
        if scene.output_type == OutputType.sdf:
            image = _sdf(scene, width, height, num_samples_x, num_samples_y)
        else:

            def draw(groups: list[ShapeGroup]) -> torch.Tensor:
                return render(
                    scene.shapes,
                    groups,
                    width=int(width),
                    height=int(height),
                    samples=max(num_samples_x, num_samples_y),
                    background=background_image,
                    device=get_device(),
                    scale=_output_scale(scene, width, height),
                )

            image = draw(scene.groups)
            if background_image is None:
                image = _diffvg_colour(image, scene.groups, draw)
        if _print_timing:
            _log.info("render: %.4f s", time.perf_counter() - start)
        return image

    @staticmethod
    def render_grad(  # noqa: PLR0917 - DiffVG's signature
        grad_img: torch.Tensor,
        width: int,
        height: int,
        num_samples_x: int,
        num_samples_y: int,
        seed: int,
        background_image: torch.Tensor | None,
        *args: Any,
    ) -> torch.Tensor:
        """DiffVG's screen-space gradient: for each pixel, the derivative of
        ``sum(grad_img * image)`` with respect to translating the scene under that pixel,
        ``[height, width, 2]`` (``[M, 2]`` at ``eval_positions``).

        Implemented for ``OutputType.sdf`` (where it is minus the distance gradient with
        respect to the sample position, summed over the pixel's samples); the colour
        output raises ``NotImplementedError``.
        """
        del seed, background_image
        scene = _deserialize(list(args))
        if scene.output_type != OutputType.sdf:
            raise NotImplementedError("render_grad is implemented for OutputType.sdf only")
        dev = get_device()
        dtype = _scene_float_dtype(scene.shapes)
        if scene.eval_positions is not None:
            points = scene.eval_positions.to(device=dev, dtype=dtype)
        else:
            _check_samples(num_samples_x, num_samples_y)
            points = sample_grid(
                width, height, num_samples_x, num_samples_y, device=dev, dtype=dtype
            )
        points = points.detach().requires_grad_(True)
        with torch.enable_grad():
            image = _sdf(scene, width, height, num_samples_x, num_samples_y, points=points)
            (d_points,) = torch.autograd.grad(
                (image * grad_img.to(device=dev, dtype=image.dtype)).sum(), points
            )
        # Sample positions are in output pixels; the scene moves in canvas pixels.
        to_canvas = torch.tensor(
            [width / scene.canvas_width, height / scene.canvas_height], device=dev, dtype=dtype
        )
        d_translation = -d_points * to_canvas
        if scene.eval_positions is not None:
            return d_translation
        per_pixel = num_samples_x * num_samples_y
        return d_translation.reshape(height, width, per_pixel, 2).sum(dim=2)


def _diffvg_colour(
    image: torch.Tensor,
    groups: list[ShapeGroup],
    draw: Callable[[list[ShapeGroup]], torch.Tensor],
) -> torch.Tensor:
    """DiffVG's colour convention over a transparent canvas: each sample holds the
    straight colour of what covers it, or zero, and a pixel their mean, so its colour is
    the straight colour times the share of it that any shape covers (``union``) and only
    its alpha is the composited opacity. DiffVG's programs fit targets rendered this way
    (a straight colour alone shows the paint's full colour at a pixel that a shape barely
    touches, a floor such a loss cannot leave). ``union`` is the alpha of the scene with
    every paint opaque: the alpha itself when they already are."""
    opaque = [_opaque_group(g) for g in groups]
    if all(o is g for o, g in zip(opaque, groups, strict=True)):
        union = image[..., 3:]
    else:
        union = draw(opaque)[..., 3:]
    return torch.cat([image[..., :3] * union, image[..., 3:]], dim=-1)


def _opaque_group(group: ShapeGroup) -> ShapeGroup:
    """``group`` with its paints at full opacity (itself when they are)."""
    fill, stroke = _opaque_paint(group.fill_color), _opaque_paint(group.stroke_color)
    if fill is group.fill_color and stroke is group.stroke_color:
        return group
    twin = copy.copy(group)
    twin.fill_color, twin.stroke_color = fill, stroke
    return twin


def _opaque_paint(paint: Color | None) -> Color | None:
    if paint is None:
        return None
    if isinstance(paint, LinearGradient | RadialGradient):
        stops = paint.stop_colors
        if bool((stops.detach()[:, 3] == 1).all()):
            return paint
        twin = copy.copy(paint)
        twin.stop_colors = torch.cat([stops[:, :3], torch.ones_like(stops[:, 3:])], dim=1)
        return twin
    if bool(paint.detach().reshape(-1)[3] == 1):
        return paint
    return torch.cat([paint.reshape(-1)[:3], torch.ones_like(paint.reshape(-1)[3:4])])


def _check_samples(num_samples_x: int, num_samples_y: int) -> None:
    if num_samples_x < 1 or num_samples_y < 1:
        raise ValueError("num_samples_x and num_samples_y must be >= 1")


def _output_scale(scene: _Scene, width: int, height: int) -> float:
    scale = width / scene.canvas_width
    if abs(height / scene.canvas_height - scale) > 1e-9:
        raise ValueError("output size must keep the canvas aspect ratio")
    return scale


def _scene_float_dtype(shapes: Sequence[Shape]) -> torch.dtype:
    """float64 when any shape coordinate is float64, else float32."""
    for shape in shapes:
        for value in vars(shape).values():
            if isinstance(value, torch.Tensor) and value.dtype == torch.float64:
                return torch.float64
    return torch.float32


def _sdf(
    scene: _Scene,
    width: int,
    height: int,
    num_samples_x: int,
    num_samples_y: int,
    *,
    points: torch.Tensor | None = None,
) -> torch.Tensor:
    _check_samples(num_samples_x, num_samples_y)
    if width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive, got {width}x{height}")
    return render_sdf(
        scene.shapes,
        scene.groups,
        canvas_width=scene.canvas_width,
        canvas_height=scene.canvas_height,
        width=int(width),
        height=int(height),
        samples_x=num_samples_x,
        samples_y=num_samples_y,
        eval_positions=scene.eval_positions,
        sample_points=points,
        device=get_device(),
        dtype=points.dtype if points is not None else _scene_float_dtype(scene.shapes),
    )


@dataclass
class _Scene:
    canvas_width: int
    canvas_height: int
    output_type: OutputType
    eval_positions: torch.Tensor | None
    shapes: list[Shape]
    groups: list[ShapeGroup]


def _serialize_color(args: list[Any], color: Color | None) -> None:
    if color is None:
        args.append("none")
    elif isinstance(color, LinearGradient):
        args += ["linear", color.begin, color.end, color.offsets, color.stop_colors]
    elif isinstance(color, RadialGradient):
        args += ["radial", color.center, color.radius, color.offsets, color.stop_colors]
    else:
        args += ["constant", color]


def _deserialize(args: list[Any]) -> _Scene:
    try:
        canvas_width, canvas_height, num_shapes, num_groups, output_type, positions = args[:6]
        pos = 6

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
    return _Scene(
        int(canvas_width),
        int(canvas_height),
        OutputType(output_type),
        positions,
        shapes,
        groups,
    )
