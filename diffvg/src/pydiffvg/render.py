"""Rendering entry points: :func:`render` (DiffVG scenes) and :func:`render_polygons`."""

from __future__ import annotations

import operator
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from pydiffvg.engine import DEFAULT_CHUNK_ENTRIES, render_pieces
from pydiffvg.geometry import Pieces, flatten_scene
from pydiffvg.shape import (
    Color,
    LinearGradient,
    Path,
    Polygon,
    RadialGradient,
    Rect,
    Shape,
    ShapeGroup,
)

__all__ = ["render", "render_polygons"]


def render(
    shapes: Sequence[Shape],
    shape_groups: Sequence[ShapeGroup],
    *,
    width: int,
    height: int,
    samples: int = 2,
    background: torch.Tensor | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | None = None,
    tolerance: float = 0.02,
    chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
    scale: float = 1.0,
) -> torch.Tensor:
    """Render a scene to a straight-alpha RGBA image ``[height, width, 4]``.

    Fill coverage is the exact box-filtered area of each pixel; strokes are sampled on a
    ``samples x samples`` grid of cells per pixel, each integrating its own box.
    ``background`` is an ``[H, W, 3]`` (opaque) or ``[H, W, 4]`` (straight alpha) image
    composited under the scene. ``device`` defaults to the device of the scene's tensors,
    ``dtype`` to theirs (float32 or float64). ``scale`` multiplies canvas coordinates
    (used when the output size differs from the canvas size).
    """
    if not (isinstance(width, int) and isinstance(height, int)) or width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive integers, got {width}x{height}")
    if samples < 1:
        raise ValueError(f"samples must be >= 1, got {samples}")
    if tolerance <= 0:
        raise ValueError("tolerance must be positive")
    dev, dt = _scene_device_dtype(shapes, shape_groups, device, dtype)
    pieces = flatten_scene(shapes, shape_groups, device=dev, dtype=dt, tolerance=tolerance / scale)
    if scale != 1.0:
        pieces.a = pieces.a * scale
        pieces.b = pieces.b * scale
        pieces.ha = pieces.ha * scale
        pieces.hb = pieces.hb * scale

    paints: list[Color | None] = []
    for g in shape_groups:
        paints.extend([g.fill_color, g.stroke_color])
    return render_pieces(
        pieces,
        paints,
        even_odd=torch.tensor(
            [g.use_even_odd_rule for g in shape_groups], dtype=torch.bool, device=dev
        ),
        width=width,
        height=height,
        samples=samples,
        background=background,
        chunk_entries=chunk_entries,
        dev=dev,
        dt=dt,
    )


def render_polygons(
    vertices: torch.Tensor,
    loop_sizes: Sequence[int] | torch.Tensor,
    loop_group: Sequence[int] | torch.Tensor,
    fill_colors: torch.Tensor,
    *,
    width: int,
    height: int,
    even_odd: Sequence[bool] | torch.Tensor | None = None,
    gradient_fills: Mapping[int, LinearGradient | RadialGradient] | None = None,
    background: torch.Tensor | None = None,
    chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
) -> torch.Tensor:
    """Render filled closed polygons given as one vertex table (a fast path of :func:`render`).

    ``vertices`` ``[N, 2]`` holds every loop's vertices back to back, ``loop_sizes`` the
    vertex count of each loop and ``loop_group`` the group of each loop (non-decreasing:
    groups are painted in index order, like :class:`ShapeGroup` s). ``fill_colors``
    ``[G, 4]`` are straight RGBA per group; ``even_odd`` ``[G]`` selects the fill rule
    (default non-zero). ``gradient_fills`` maps a group index to a
    :class:`LinearGradient` or :class:`RadialGradient` that fills it instead of its
    ``fill_colors`` row (differentiable in its tensors, like :func:`render`). The image
    equals :func:`render` of the same scene written as one
    closed straight-edged :class:`Polygon` per loop, but the scene is assembled in a few
    tensor operations instead of one Python step per shape, which matters for scenes of
    thousands of loops. Differentiable in ``vertices`` and ``fill_colors``.
    """
    if not (isinstance(width, int) and isinstance(height, int)) or width <= 0 or height <= 0:
        raise ValueError(f"width and height must be positive integers, got {width}x{height}")
    if vertices.dim() != 2 or vertices.shape[1] != 2:
        raise ValueError(f"vertices must have shape [N, 2], got {tuple(vertices.shape)}")
    dev, dt = vertices.device, vertices.dtype
    if dt not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dt}")
    sizes = torch.as_tensor(loop_sizes, dtype=torch.long).cpu()
    owner = torch.as_tensor(loop_group, dtype=torch.long).cpu()
    if sizes.dim() != 1 or owner.shape != sizes.shape:
        raise ValueError("loop_sizes and loop_group must be 1-D and of equal length")
    if bool((sizes < 1).any()) or int(sizes.sum()) != vertices.shape[0]:
        raise ValueError("loop_sizes must be positive and sum to the number of vertices")
    if fill_colors.dim() != 2 or fill_colors.shape[1] != 4:
        raise ValueError(f"fill_colors must have shape [G, 4], got {tuple(fill_colors.shape)}")
    num_groups = fill_colors.shape[0]
    if owner.numel() and (
        bool((owner[1:] < owner[:-1]).any())
        or int(owner.min()) < 0
        or int(owner.max()) >= num_groups
    ):
        raise ValueError("loop_group must be non-decreasing group indices below len(fill_colors)")
    if not bool(torch.isfinite(vertices).all()):
        raise ValueError("scene contains non-finite coordinates")
    gradients = {operator.index(g): p for g, p in (gradient_fills or {}).items()}
    for g, paint in gradients.items():
        if not 0 <= g < num_groups:
            raise ValueError(f"gradient_fills keys must be group indices below {num_groups}")
        if not isinstance(paint, LinearGradient | RadialGradient):
            raise TypeError(
                f"gradient_fills values must be LinearGradient or RadialGradient, got "
                f"{type(paint).__name__}"
            )
    # Successor of each vertex within its own loop (the last one closes the loop).
    ends = torch.cumsum(sizes, 0)
    nxt = torch.arange(1, vertices.shape[0] + 1)
    nxt[ends - 1] = ends - sizes
    nxt_d = nxt.to(dev)
    zeros = vertices.new_zeros(vertices.shape[0])
    pieces = Pieces(
        a=vertices,
        b=vertices[nxt_d],
        group=torch.repeat_interleave(owner, sizes).to(dev),
        stroke=torch.zeros(vertices.shape[0], dtype=torch.bool, device=dev),
        ha=zeros,
        hb=zeros,
    )
    colors = fill_colors.to(device=dev, dtype=dt)
    # Rows alternate fill, stroke (no strokes here), built in one operation: a Python
    # step per group would cost more than the rendering in scenes of thousands of groups.
    solid = torch.stack([colors, torch.zeros_like(colors)], dim=1).reshape(-1, 4)
    if even_odd is None:
        eo = torch.zeros(num_groups, dtype=torch.bool, device=dev)
    else:
        eo = torch.as_tensor(even_odd, dtype=torch.bool).to(dev)
        if eo.shape != (num_groups,):
            raise ValueError(f"even_odd must have shape [{num_groups}]")
    return render_pieces(
        pieces,
        [],
        solid=solid,
        has_fill=[True] * num_groups,
        gradient_fills=gradients,
        even_odd=eo,
        width=width,
        height=height,
        samples=1,
        background=background,
        chunk_entries=chunk_entries,
        dev=dev,
        dt=dt,
    )


def _scene_device_dtype(
    shapes: Sequence[Shape], groups: Sequence[ShapeGroup], device: Any, dtype: Any
) -> tuple[torch.device, torch.dtype]:
    first: torch.Tensor | None = None
    for s in shapes:
        t = (
            s.points
            if isinstance(s, Path | Polygon)
            else (s.p_min if isinstance(s, Rect) else s.center)
        )
        first = t
        break
    dev = (
        torch.device(device)
        if device is not None
        else (first.device if first is not None else torch.device("cpu"))
    )
    if dtype is None:
        dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    if dtype not in (torch.float32, torch.float64):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dev, dtype
