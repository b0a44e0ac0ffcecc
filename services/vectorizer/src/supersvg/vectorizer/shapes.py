"""The vector scene the pipeline works on: filled closed cubic Bézier paths."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["LinearFill", "VPath", "polygon_area", "scene_bounds"]


@dataclass
class LinearFill:
    """A linear gradient fill: colour ``stops[0]`` at ``begin``, ``stops[1]`` at ``end``
    (image pixels), constant across the direction, padded beyond the ends (SVG
    ``linearGradient`` in user space). ``stops`` is ``(2, 4)`` straight RGBA in [0, 1]."""

    begin: np.ndarray
    end: np.ndarray
    stops: np.ndarray


@dataclass
class VPath:
    """One filled SVG path element.

    ``subpaths`` are closed cubic Bézier loops, each an ``(3N, 2)`` float array in image
    pixels (x, y): ``p0, c0a, c0b, p1, c1a, c1b, ...`` and the last segment returns to
    ``p0``. Several subpaths are filled with the even-odd rule (outer contour plus holes).
    ``color`` is straight (not premultiplied) RGBA in [0, 1].
    """

    subpaths: list[np.ndarray]
    color: np.ndarray
    is_background: bool = False
    meta: dict[str, float] = field(default_factory=dict)
    #: When set, the shape is filled with this gradient instead of ``color``.
    gradient: LinearFill | None = None

    @property
    def even_odd(self) -> bool:
        return len(self.subpaths) > 1

    def area(self) -> float:
        """Area enclosed by the control polygon of the outer (first) subpath."""
        if not self.subpaths:
            return 0.0
        return abs(polygon_area(self.subpaths[0]))

    def num_segments(self) -> int:
        return sum(len(s) // 3 for s in self.subpaths)


def polygon_area(points: np.ndarray) -> float:
    """Signed shoelace area of a closed polygon given as ``(N, 2)`` points."""
    if len(points) < 3:
        return 0.0
    x = points[:, 0]
    y = points[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def scene_bounds(paths: list[VPath]) -> tuple[float, float, float, float]:
    pts = np.concatenate([s for p in paths for s in p.subpaths], axis=0)
    return (
        float(pts[:, 0].min()),
        float(pts[:, 1].min()),
        float(pts[:, 0].max()),
        float(pts[:, 1].max()),
    )
