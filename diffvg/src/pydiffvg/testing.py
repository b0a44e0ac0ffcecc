"""Random scene generators shared by the test suite and the benchmarks."""

from __future__ import annotations

import math

import torch

from pydiffvg.shape import Path, Shape, ShapeGroup

__all__ = ["blob_path", "random_scene"]


def blob_path(
    center: torch.Tensor,
    radius: float,
    *,
    generator: torch.Generator,
    segments: int = 4,
    jitter: float = 0.15,
    reverse: bool = False,
    dtype: torch.dtype = torch.float32,
) -> Path:
    """A closed cubic blob of ``segments`` segments around ``center`` (points in pixels)."""
    n = segments
    g = generator
    ang = torch.arange(n, dtype=torch.float64) * (2 * math.pi / n)
    ang = ang + torch.rand(n, generator=g, dtype=torch.float64) * (math.pi / n) * 0.5
    r = radius * (0.6 + 0.4 * torch.rand(n, generator=g, dtype=torch.float64))
    c = center.to(torch.float64)
    anchors = torch.stack([c[0] + r * torch.cos(ang), c[1] + r * torch.sin(ang)], 1)
    tang = (
        torch.stack([-torch.sin(ang), torch.cos(ang)], 1)
        * (r * (4 / 3) * math.tan(math.pi / (2 * n)))[:, None]
    )
    pts = []
    for k in range(n):
        k1 = (k + 1) % n
        noise = torch.randn(2, 2, generator=g, dtype=torch.float64) * radius * jitter
        pts += [anchors[k], anchors[k] + tang[k] + noise[0], anchors[k1] - tang[k1] + noise[1]]
    points = torch.stack(pts)
    if reverse:
        # Same outline, opposite direction: anchor 0 first, then the reversed sequence.
        points = torch.cat([points[:1], points[1:].flip(0)])
    return Path(torch.full((n,), 2, dtype=torch.int32), points.to(dtype), True)


def random_scene(
    seed: int,
    *,
    width: int,
    height: int,
    num_shapes: int,
    size: float | None = None,
    strokes: bool = True,
    holes: bool = True,
    dtype: torch.dtype = torch.float32,
) -> tuple[list[Shape], list[ShapeGroup]]:
    """A random scene of overlapping closed cubic paths.

    Mixes fill rules, transparent and opaque colours, strokes of varied width, stroke-only
    groups and groups with holes (an inner path in the same or opposite direction).
    ``size`` is the typical shape radius in pixels (default: derived from the shape count
    so the canvas is covered a few times over).
    """
    g = torch.Generator().manual_seed(seed)
    shapes: list[Shape] = []
    groups: list[ShapeGroup] = []
    if size is None:
        size = max(3.0, 1.2 * math.sqrt(width * height / max(num_shapes, 1)))
    for _ in range(num_shapes):
        u = torch.rand(8, generator=g, dtype=torch.float64).tolist()
        center = torch.tensor([u[0] * width, u[1] * height])
        radius = size * (0.4 + 1.2 * u[2])
        segs = 3 + int(u[3] * 4)
        ids = [len(shapes)]
        outer = blob_path(center, radius, generator=g, segments=segs, dtype=dtype)
        shapes.append(outer)
        if holes and u[4] < 0.2:
            inner = blob_path(
                center,
                radius * 0.4,
                generator=g,
                segments=4,
                jitter=0.05,
                reverse=u[5] < 0.5,
                dtype=dtype,
            )
            shapes.append(inner)
            ids.append(len(shapes) - 1)
        rgba = torch.rand(4, generator=g, dtype=torch.float64)
        alpha = 1.0 if u[6] < 0.4 else 0.2 + 0.8 * float(rgba[3])
        fill: torch.Tensor | None = torch.tensor([*rgba[:3].tolist(), alpha], dtype=dtype)
        stroke = None
        if strokes and u[7] < 0.3:
            s = torch.rand(5, generator=g, dtype=torch.float64).tolist()
            stroke = torch.tensor([s[0], s[1], s[2], 0.3 + 0.7 * s[3]], dtype=dtype)
            half = 0.3 + 2.0 * s[4]
            for i in ids:
                shapes[i].stroke_width = torch.tensor(half, dtype=dtype)
            if s[4] < 0.25:
                fill = None
        groups.append(
            ShapeGroup(torch.tensor(ids), fill, use_even_odd_rule=u[5] < 0.5, stroke_color=stroke)
        )
    return shapes, groups
