"""Scene description classes with DiffVG's constructor signatures.

Coordinates are canvas pixels (x right, y down; pixel ``(i, j)`` covers ``[i, i+1) x
[j, j+1)``). As in DiffVG, ``stroke_width`` is half the stroke's full width.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

__all__ = [
    "Circle",
    "Ellipse",
    "LinearGradient",
    "Path",
    "Polygon",
    "RadialGradient",
    "Rect",
    "Shape",
    "ShapeGroup",
]


def _as_tensor(value: Any, name: str, *, dtype: torch.dtype | None = None) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value, dtype=dtype if dtype is not None else torch.float32)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a tensor or array-like, got {type(value)!r}") from exc


def _default_width(stroke_width: Any) -> torch.Tensor:
    if stroke_width is None:
        return torch.tensor(1.0)
    return _as_tensor(stroke_width, "stroke_width")


class Path:
    """A path of line / quadratic / cubic segments.

    ``num_control_points[i]`` is 0 (line), 1 (quadratic) or 2 (cubic) for segment ``i``;
    ``points`` is ``[P, 2]`` with the segments' shared end points and control points in
    order. A closed path's last segment ends at ``points[0]``.
    """

    def __init__(  # noqa: PLR0917 - DiffVG's signature
        self,
        num_control_points: Any,
        points: Any,
        is_closed: bool,
        stroke_width: Any = None,
        id: str = "",
        use_distance_approx: bool = False,
    ) -> None:
        self.num_control_points = _as_tensor(
            num_control_points, "num_control_points", dtype=torch.int32
        )
        self.points = _as_tensor(points, "points")
        self.is_closed = bool(is_closed)
        self.stroke_width = _default_width(stroke_width)
        self.id = id
        self.use_distance_approx = use_distance_approx
        self.validate()

    def validate(self) -> None:
        """Check that the point count matches the segment description."""
        ncp = self.num_control_points
        if ncp.dim() != 1:
            raise ValueError("Path.num_control_points must be a 1-D integer tensor")
        if ncp.numel() and (int(ncp.min()) < 0 or int(ncp.max()) > 2):
            raise ValueError("Path.num_control_points entries must be 0, 1 or 2")
        if self.points.dim() != 2 or self.points.shape[1] != 2:
            raise ValueError(f"Path.points must have shape [P, 2], got {tuple(self.points.shape)}")
        expected = int(ncp.sum()) + ncp.numel() + (0 if self.is_closed else 1)
        if ncp.numel() == 0:
            expected = self.points.shape[0]
        if self.points.shape[0] != expected:
            raise ValueError(
                f"Path with {ncp.numel()} segments ({'closed' if self.is_closed else 'open'}) "
                f"needs {expected} points, got {self.points.shape[0]}"
            )


class Polygon:
    """A polygon (closed) or polyline (open) through ``points`` ``[P, 2]``."""

    def __init__(
        self,
        points: Any,
        is_closed: bool,
        stroke_width: Any = None,
        id: str = "",
    ) -> None:
        self.points = _as_tensor(points, "points")
        if self.points.dim() != 2 or self.points.shape[1] != 2:
            raise ValueError("Polygon.points must have shape [P, 2]")
        self.is_closed = bool(is_closed)
        self.stroke_width = _default_width(stroke_width)
        self.id = id


class Rect:
    """An axis-aligned rectangle from ``p_min`` to ``p_max``."""

    def __init__(
        self,
        p_min: Any,
        p_max: Any,
        stroke_width: Any = None,
        id: str = "",
    ) -> None:
        self.p_min = _as_tensor(p_min, "p_min")
        self.p_max = _as_tensor(p_max, "p_max")
        if self.p_min.shape != (2,) or self.p_max.shape != (2,):
            raise ValueError("Rect.p_min and Rect.p_max must have shape [2]")
        self.stroke_width = _default_width(stroke_width)
        self.id = id


class Circle:
    """A circle with scalar ``radius`` and ``center`` ``[2]``."""

    def __init__(
        self,
        radius: Any,
        center: Any,
        stroke_width: Any = None,
        id: str = "",
    ) -> None:
        self.radius = _as_tensor(radius, "radius")
        self.center = _as_tensor(center, "center")
        if self.center.shape != (2,):
            raise ValueError("Circle.center must have shape [2]")
        self.stroke_width = _default_width(stroke_width)
        self.id = id


class Ellipse:
    """An axis-aligned ellipse with ``radius`` ``[2]`` (rx, ry) and ``center`` ``[2]``."""

    def __init__(
        self,
        radius: Any,
        center: Any,
        stroke_width: Any = None,
        id: str = "",
    ) -> None:
        self.radius = _as_tensor(radius, "radius")
        self.center = _as_tensor(center, "center")
        if self.radius.shape != (2,) or self.center.shape != (2,):
            raise ValueError("Ellipse.radius and Ellipse.center must have shape [2]")
        self.stroke_width = _default_width(stroke_width)
        self.id = id


Shape = Path | Polygon | Rect | Circle | Ellipse


class LinearGradient:
    """Linear gradient from ``begin`` to ``end`` with ``offsets`` ``[S]`` and RGBA
    ``stop_colors`` ``[S, 4]`` (canvas coordinates, like SVG ``userSpaceOnUse``)."""

    def __init__(self, begin: Any, end: Any, offsets: Any, stop_colors: Any) -> None:
        self.begin = _as_tensor(begin, "begin")
        self.end = _as_tensor(end, "end")
        self.offsets = _as_tensor(offsets, "offsets")
        self.stop_colors = _as_tensor(stop_colors, "stop_colors")
        _check_stops(self.offsets, self.stop_colors)


class RadialGradient:
    """Radial gradient around ``center`` with per-axis ``radius`` ``[2]``."""

    def __init__(self, center: Any, radius: Any, offsets: Any, stop_colors: Any) -> None:
        self.center = _as_tensor(center, "center")
        self.radius = _as_tensor(radius, "radius")
        if self.radius.dim() == 0:
            self.radius = self.radius.reshape(1).expand(2)
        self.offsets = _as_tensor(offsets, "offsets")
        self.stop_colors = _as_tensor(stop_colors, "stop_colors")
        _check_stops(self.offsets, self.stop_colors)


def _check_stops(offsets: torch.Tensor, stop_colors: torch.Tensor) -> None:
    if offsets.dim() != 1 or offsets.numel() == 0:
        raise ValueError("gradient offsets must be a non-empty 1-D tensor")
    if stop_colors.shape != (offsets.shape[0], 4):
        raise ValueError(
            f"gradient stop_colors must have shape [{offsets.shape[0]}, 4], "
            f"got {tuple(stop_colors.shape)}"
        )


Color = torch.Tensor | LinearGradient | RadialGradient


class ShapeGroup:
    """Shapes filled (and/or stroked) together; groups are painted in list order.

    The fill winding number is summed over all shapes of the group; ``fill_color`` and
    ``stroke_color`` are RGBA tensors ``[4]`` (straight alpha), gradients or ``None``.
    ``shape_to_canvas`` is a 3x3 affine matrix applied to the shapes' coordinates.
    """

    def __init__(  # noqa: PLR0917 - DiffVG's signature
        self,
        shape_ids: Any,
        fill_color: Color | Sequence[float] | None,
        use_even_odd_rule: bool = True,
        stroke_color: Color | Sequence[float] | None = None,
        shape_to_canvas: Any = None,
        id: str = "",
    ) -> None:
        self.shape_ids = _as_tensor(shape_ids, "shape_ids", dtype=torch.int64)
        if self.shape_ids.dim() != 1:
            raise ValueError("ShapeGroup.shape_ids must be a 1-D integer tensor")
        self.fill_color = _as_color(fill_color, "fill_color")
        self.use_even_odd_rule = bool(use_even_odd_rule)
        self.stroke_color = _as_color(stroke_color, "stroke_color")
        self.shape_to_canvas = (
            torch.eye(3)
            if shape_to_canvas is None
            else _as_tensor(shape_to_canvas, "shape_to_canvas")
        )
        if self.shape_to_canvas.shape != (3, 3):
            raise ValueError("ShapeGroup.shape_to_canvas must have shape [3, 3]")
        self.id = id


def _as_color(value: Any, name: str) -> Color | None:
    if value is None or isinstance(value, LinearGradient | RadialGradient):
        return value
    color = _as_tensor(value, name)
    if color.shape != (4,):
        raise ValueError(f"{name} must be an RGBA tensor of shape [4], got {tuple(color.shape)}")
    return color
