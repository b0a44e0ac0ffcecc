"""Rendering entry points: :func:`render` and DiffVG's ``RenderFunction``."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

from pydiffvg.device import get_device
from pydiffvg.geometry import Pieces, flatten_scene
from pydiffvg.raster import (
    Entries,
    composite,
    composite_dense,
    fill_dense,
    fill_entries,
    group_boxes,
    stroke_entries,
)
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

__all__ = ["PixelFilter", "RenderFunction", "render", "render_polygons", "set_print_timing"]

_print_timing = False
_log = logging.getLogger("pydiffvg")


def set_print_timing(value: bool) -> None:
    """Log the wall time of each ``RenderFunction.apply`` call (logger ``pydiffvg``)."""
    global _print_timing
    _print_timing = bool(value)


# Sparse entries handled at once; larger scenes are split into painter-ordered chunks of
# groups whose intermediates are recomputed in the backward pass.
DEFAULT_CHUNK_ENTRIES = 1 << 22


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
    return _render_pieces(
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
    background: torch.Tensor | None = None,
    chunk_entries: int = DEFAULT_CHUNK_ENTRIES,
) -> torch.Tensor:
    """Render filled closed polygons given as one vertex table (a fast path of :func:`render`).

    ``vertices`` ``[N, 2]`` holds every loop's vertices back to back, ``loop_sizes`` the
    vertex count of each loop and ``loop_group`` the group of each loop (non-decreasing:
    groups are painted in index order, like :class:`ShapeGroup` s). ``fill_colors``
    ``[G, 4]`` are straight RGBA per group; ``even_odd`` ``[G]`` selects the fill rule
    (default non-zero). The image equals :func:`render` of the same scene written as one
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
    return _render_pieces(
        pieces,
        [],
        solid=solid,
        has_fill=[True] * num_groups,
        even_odd=eo,
        width=width,
        height=height,
        samples=1,
        background=background,
        chunk_entries=chunk_entries,
        dev=dev,
        dt=dt,
    )


def _render_pieces(
    pieces: Pieces,
    paints: list[Color | None],
    *,
    solid: torch.Tensor | None = None,
    has_fill: list[bool] | None = None,
    even_odd: torch.Tensor,
    width: int,
    height: int,
    samples: int,
    background: torch.Tensor | None,
    chunk_entries: int,
    dev: torch.device,
    dt: torch.dtype,
) -> torch.Tensor:
    """Coverage and compositing of flattened pieces; ``paints`` alternate fill, stroke.

    Fill-only scenes of solid colours may pass ``solid`` (rows alternate fill, stroke) and
    ``has_fill`` instead of ``paints``.
    """
    if solid is None or has_fill is None:
        has_fill = [p is not None for p in paints[0::2]]
        has_stroke = [p is not None for p in paints[1::2]]
        solid = _solid_table(paints, dev, dt)
    else:
        has_stroke = [False] * len(has_fill)
    num_groups = len(has_fill)
    gradients = [
        (i, p) for i, p in enumerate(paints) if isinstance(p, LinearGradient | RadialGradient)
    ]

    npix = width * height
    color = torch.zeros((npix, 3), dtype=dt, device=dev)
    cover = torch.zeros(npix, dtype=dt, device=dev)
    logt = torch.zeros(npix, dtype=dt, device=dev)
    if num_groups and pieces.a.shape[0]:
        chunks = _plan_chunks(
            pieces,
            num_groups,
            has_fill=has_fill,
            has_stroke=has_stroke,
            width=width,
            height=height,
            budget=chunk_entries,
        )
        grad_on = torch.is_grad_enabled()
        for g0, g1, p0, p1 in chunks:
            args = (pieces.a[p0:p1], pieces.b[p0:p1], pieces.ha[p0:p1], pieces.hb[p0:p1], solid)

            def run(  # noqa: PLR0917
                a: torch.Tensor,
                b: torch.Tensor,
                ha: torch.Tensor,
                hb: torch.Tensor,
                solid_t: torch.Tensor,
                g0: int = g0,
                g1: int = g1,
                p0: int = p0,
                p1: int = p1,
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
                return _render_chunk(
                    a,
                    b,
                    ha,
                    hb,
                    group=pieces.group[p0:p1] - g0,
                    stroke=pieces.stroke[p0:p1],
                    even_odd=even_odd[g0:g1],
                    has_fill=has_fill[g0:g1],
                    has_stroke=has_stroke[g0:g1],
                    g0=g0,
                    solid=solid_t,
                    gradients=gradients,
                    width=width,
                    height=height,
                    samples=samples,
                )

            if len(chunks) > 1 and grad_on:
                c_col, c_cov, c_logt = checkpoint(run, *args, use_reentrant=False)
            else:
                c_col, c_cov, c_logt = run(*args)
            through = torch.exp(c_logt)
            color = c_col + through[:, None] * color
            cover = c_cov + through * cover
            logt = logt + c_logt

    if background is not None:
        bg = _background(background, width, height, dev, dt)
        through = torch.exp(logt)
        color = color + through[:, None] * bg[:, :3] * bg[:, 3:4]
        cover = cover + through * bg[:, 3]
    visible = cover > 1e-8
    safe = torch.where(visible, cover, torch.ones_like(cover))
    straight = torch.where(visible[:, None], color / safe[:, None], torch.zeros_like(color))
    out = torch.cat([straight, cover[:, None].clamp(0, 1)], dim=1)
    return out.reshape(height, width, 4)


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


def _solid_table(paints: list[Color | None], dev: torch.device, dt: torch.dtype) -> torch.Tensor:
    zero = torch.zeros(4, dtype=dt, device=dev)
    rows = [p.to(device=dev, dtype=dt) if isinstance(p, torch.Tensor) else zero for p in paints]
    if not rows:
        return torch.zeros((0, 4), dtype=dt, device=dev)
    return torch.stack(rows)


def _background(
    bg: torch.Tensor, width: int, height: int, dev: torch.device, dt: torch.dtype
) -> torch.Tensor:
    if bg.dim() != 3 or bg.shape[0] != height or bg.shape[1] != width or bg.shape[2] not in (3, 4):
        raise ValueError(
            f"background must have shape [{height}, {width}, 3|4], got {tuple(bg.shape)}"
        )
    bg = bg.to(device=dev, dtype=dt).reshape(height * width, -1)
    if bg.shape[1] == 3:
        bg = torch.cat([bg, torch.ones_like(bg[:, :1])], dim=1)
    return bg


def _plan_chunks(
    pieces: Pieces,
    num_groups: int,
    *,
    has_fill: list[bool],
    has_stroke: list[bool],
    width: int,
    height: int,
    budget: int,
) -> list[tuple[int, int, int, int]]:
    """Split groups (in painter's order) into chunks of bounded estimated entry count."""
    with torch.no_grad():
        pad = torch.maximum(pieces.ha, pieces.hb).detach().clamp(min=0) + 1.0
        box_t = group_boxes(pieces.a.detach(), pieces.b.detach(), pieces.group, num_groups, pad)
        box = box_t.cpu().numpy()
        counts = torch.bincount(pieces.group, minlength=num_groups).cpu().numpy()
    finite = np.isfinite(box).all(axis=1)
    w = np.clip(
        np.where(finite, np.minimum(box[:, 2], width) - np.maximum(box[:, 0], 0), 0), 0, None
    )
    h = np.clip(
        np.where(finite, np.minimum(box[:, 3], height) - np.maximum(box[:, 1], 0), 0), 0, None
    )
    factor = np.asarray(has_fill, dtype=np.float64) + 4.0 * np.asarray(has_stroke, np.float64)
    est = (w + 2) * (h + 2) * factor
    piece_end = np.cumsum(counts)
    chunks: list[tuple[int, int, int, int]] = []
    start = 0
    acc = 0.0
    for gi in range(num_groups):
        if gi > start and acc + est[gi] > budget:
            chunks.append(
                (start, gi, int(piece_end[start - 1]) if start else 0, int(piece_end[gi - 1]))
            )
            start, acc = gi, 0.0
        acc += est[gi]
    chunks.append(
        (start, num_groups, int(piece_end[start - 1]) if start else 0, int(piece_end[-1]))
    )
    return chunks


def _render_chunk(
    a: torch.Tensor,
    b: torch.Tensor,
    ha: torch.Tensor,
    hb: torch.Tensor,
    *,
    group: torch.Tensor,
    stroke: torch.Tensor,
    even_odd: torch.Tensor,
    has_fill: list[bool],
    has_stroke: list[bool],
    g0: int,
    solid: torch.Tensor,
    gradients: list[tuple[int, LinearGradient | RadialGradient]],
    width: int,
    height: int,
    samples: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    dev = a.device
    ng = even_odd.shape[0]
    layers = torch.arange(ng, device=dev) * 2 + 2 * g0
    fill_groups = torch.tensor(has_fill, dtype=torch.bool, device=dev)
    fill_sel = torch.nonzero(fill_groups[group]).squeeze(1)
    stroke_entries_ = None
    if any(has_stroke):
        stroke_groups = torch.tensor(has_stroke, dtype=torch.bool, device=dev)
        sel = torch.nonzero(stroke_groups[group] & stroke).squeeze(1)
        stroke_entries_ = stroke_entries(
            a[sel],
            b[sel],
            ha=ha[sel],
            hb=hb[sel],
            group=group[sel],
            layer_of_group=layers + 1,
            width=width,
            height=height,
            samples=samples,
        )
    box = _dense_box(
        a,
        b,
        ha=ha,
        hb=hb,
        group=group,
        has_fill=has_fill,
        has_stroke=has_stroke,
        width=width,
        height=height,
    )
    if box is not None:
        return _render_dense(
            a[fill_sel],
            b[fill_sel],
            group[fill_sel],
            even_odd=even_odd,
            strokes=stroke_entries_,
            any_stroke=any(has_stroke),
            g0=g0,
            solid=solid,
            gradients=gradients,
            box=box,
            width=width,
            height=height,
        )
    parts: list[Entries] = []
    if any(has_fill):
        parts.append(
            fill_entries(
                a[fill_sel],
                b[fill_sel],
                group[fill_sel],
                even_odd=even_odd,
                layer_of_group=layers,
                width=width,
                height=height,
            )
        )
    if stroke_entries_ is not None:
        parts.append(stroke_entries_)
    pixel = torch.cat([p.pixel for p in parts])
    layer = torch.cat([p.layer for p in parts])
    cov = torch.cat([p.cov for p in parts])
    rgba = solid[layer]
    for lid, paint in gradients:
        if not 2 * g0 <= lid < 2 * (g0 + ng):
            continue
        idx = torch.nonzero(layer == lid).squeeze(1)
        if idx.numel():
            rgba = rgba.index_put((idx,), _eval_gradient(paint, pixel[idx], width, a.dtype, dev))
    return composite(pixel, layer, cov * rgba[:, 3], rgba[:, :3], width * height)


def _dense_box(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    ha: torch.Tensor,
    hb: torch.Tensor,
    group: torch.Tensor,
    has_fill: list[bool],
    has_stroke: list[bool],
    width: int,
    height: int,
) -> tuple[int, int, int, int] | None:
    """The pixel box to render densely, or None when the chunk's shapes cover too little
    of their union box for dense layers to pay off."""
    ng = len(has_fill)
    if ng < 2 or a.shape[0] == 0:
        return None
    with torch.no_grad():
        stroked = torch.tensor(has_stroke, dtype=torch.bool, device=a.device)[group]
        pad = torch.where(stroked, torch.maximum(ha, hb).detach().clamp(min=0) + 1.0, 0.0)
        box = group_boxes(a.detach(), b.detach(), group, ng, pad.to(a.dtype)).cpu()
    lo_x = box[:, 0].clamp(0, width)
    lo_y = box[:, 1].clamp(0, height)
    hi_x = box[:, 2].clamp(0, width)
    hi_y = box[:, 3].clamp(0, height)
    ok = torch.isfinite(box).all(1) & (hi_x > lo_x) & (hi_y > lo_y)
    if not bool(ok.any()):
        return None
    paints = torch.tensor(has_fill, dtype=box.dtype) + torch.tensor(has_stroke, dtype=box.dtype)
    area = float(((hi_x - lo_x + 1) * (hi_y - lo_y + 1) * paints)[ok].sum())
    x0 = int(torch.floor(lo_x[ok].min()))
    y0 = int(torch.floor(lo_y[ok].min()))
    x1 = min(int(torch.floor(hi_x[ok].max())), width - 1)
    y1 = min(int(torch.floor(hi_y[ok].max())), height - 1)
    layers = ng * (2 if any(has_stroke) else 1)
    dense_cells = layers * (x1 - x0 + 1) * (y1 - y0 + 1)
    # Dense cells avoid the sort and gathers of sparse entries but also cost a cumulative
    # sum across layers; they win once shapes cover at least half of the union box.
    return (x0, y0, x1, y1) if dense_cells <= 2.0 * area else None


def _render_dense(
    a: torch.Tensor,
    b: torch.Tensor,
    group: torch.Tensor,
    *,
    even_odd: torch.Tensor,
    strokes: Entries | None,
    any_stroke: bool,
    g0: int,
    solid: torch.Tensor,
    gradients: list[tuple[int, LinearGradient | RadialGradient]],
    box: tuple[int, int, int, int],
    width: int,
    height: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render a chunk with dense ``[layers, box pixels]`` tensors (no sorting)."""
    dev, dt = a.device, a.dtype
    ng = even_odd.shape[0]
    x0, y0, x1, y1 = box
    cols, rows = x1 - x0 + 1, y1 - y0 + 1
    ys = torch.arange(y0, y1 + 1, device=dev)
    xs = torch.arange(x0, x1 + 1, device=dev)
    box_pixels = (ys[:, None] * width + xs[None, :]).reshape(-1)
    step = 2 if any_stroke else 1
    num_layers = ng * step
    layer_ids = torch.arange(num_layers, device=dev)
    global_ids = 2 * g0 + (layer_ids if step == 2 else 2 * layer_ids)
    table = solid[global_ids]  # [L, 4]
    cov = fill_dense(a, b, group, even_odd=even_odd, box=box, width=width, height=height)
    if step == 2:
        alpha = torch.stack([cov, torch.zeros_like(cov)], dim=1).reshape(num_layers, -1)
        if strokes is not None and strokes.pixel.numel():
            px = strokes.pixel % width - x0
            py = strokes.pixel // width - y0
            local_layer = strokes.layer - 2 * g0
            alpha = alpha.index_put((local_layer, py * cols + px), strokes.cov)
    else:
        alpha = cov
    coverage = alpha
    alpha = coverage * table[:, 3:4]
    extra: dict[int, torch.Tensor] = {}
    for lid, paint in gradients:
        local = lid - 2 * g0
        if not 0 <= local < 2 * ng or (step == 1 and local % 2):
            continue
        row = local if step == 2 else local // 2
        rgba = _eval_gradient(paint, box_pixels, width, dt, dev)
        alpha = alpha.index_copy(
            0, torch.tensor([row], device=dev), (coverage[row] * rgba[:, 3])[None]
        )
        extra[row] = rgba[:, :3]
    color, cover, logt = composite_dense(alpha, table[:, :3], extra)
    if rows * cols == width * height:
        return color, cover, logt
    npix = width * height
    return (
        color.new_zeros((npix, 3)).index_copy(0, box_pixels, color),
        cover.new_zeros(npix).index_copy(0, box_pixels, cover),
        logt.new_zeros(npix).index_copy(0, box_pixels, logt),
    )


def _eval_gradient(
    paint: LinearGradient | RadialGradient,
    pixel: torch.Tensor,
    width: int,
    dt: torch.dtype,
    dev: torch.device,
) -> torch.Tensor:
    """Gradient colour at pixel centres (stops clamp at both ends, like SVG ``pad``)."""
    p = torch.stack([pixel % width, pixel // width], dim=1).to(dt) + 0.5
    offsets = paint.offsets.to(device=dev, dtype=dt)
    stops = paint.stop_colors.to(device=dev, dtype=dt)
    if isinstance(paint, LinearGradient):
        beg = paint.begin.to(device=dev, dtype=dt)
        d = paint.end.to(device=dev, dtype=dt) - beg
        t = ((p - beg) * d).sum(1) / (d * d).sum().clamp(min=1e-3)
    else:
        c = paint.center.to(device=dev, dtype=dt)
        r = paint.radius.to(device=dev, dtype=dt)
        t = ((p - c) / r).norm(dim=1)
    out = stops[0].expand(t.shape[0], 4)
    for k in range(offsets.shape[0] - 1):
        span = offsets[k + 1] - offsets[k]
        safe = torch.where(span > 0, span, torch.ones_like(span))
        frac = torch.where(
            span > 0, ((t - offsets[k]) / safe).clamp(0, 1), (t >= offsets[k]).to(dt)
        )
        out = out + frac[:, None] * (stops[k + 1] - stops[k])
    return out


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
