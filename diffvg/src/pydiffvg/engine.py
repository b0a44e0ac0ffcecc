"""The rendering engine: coverage of flattened pieces, chunking and compositing.

:func:`render_pieces` takes a flattened scene (:class:`~pydiffvg.geometry.Pieces`) and
its paints, splits the groups into painter-ordered chunks of bounded size, renders each
chunk with sparse (pixel, layer) entries or dense layers, and composites the chunks.
The public entry points are in :mod:`pydiffvg.render`. One job: from pieces and paints to
an image (the chunk planning, the dense and sparse chunk renderers and their compositing
belong together; the kernels live in :mod:`pydiffvg.raster` and :mod:`pydiffvg.stack`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from pydiffvg.gather import take
from pydiffvg.geometry import Pieces
from pydiffvg.paint import gradient_rgba
from pydiffvg.raster import (
    Entries,
    composite,
    composite_dense,
    entry_order,
    fill_dense,
    fill_entries,
    group_boxes,
    stroke_entries,
)
from pydiffvg.shape import Color, LinearGradient, RadialGradient
from pydiffvg.stack import fill_stack

__all__ = ["DEFAULT_CHUNK_ENTRIES", "render_pieces"]

# Sparse entries handled at once; larger scenes are split into painter-ordered chunks of
# groups whose intermediates are recomputed in the backward pass.
DEFAULT_CHUNK_ENTRIES = 1 << 22

# Largest ratio of dense cells (layers x union-box pixels) to the groups' own box area at
# which a chunk is rendered densely. Dense layers with autograd (strokes, gradient paints)
# avoid the sort and gathers of sparse entries but cost a cumulative sum across layers:
# they win once shapes cover half of the union box. The edge-driven stack of solid fills
# costs a few in-place passes per dense cell and wins much earlier (measured in
# benchmarks/diffvg_bench.py).
DENSE_MAX_RATIO = 2.0
STACK_MAX_RATIO = 6.0
# Whatever the layer count, the stack also takes fills whose boxes cover their union box
# this many times over on average: its tiles skip the layers that do not reach them and
# those hidden under opaque ones, where sparse entries pay for every covered pixel of
# every layer (256 superpixel-sized blobs, about 1.6 deep, are faster sparse; a training
# batch's tiles, about 5 deep, take half the time through the stack).
STACK_MIN_DEPTH = 3.0
# A group is canvas-sized when its box covers this share of the canvas; runs of at least
# MIN_RUN such groups (or of smaller ones) start a chunk of their own.
LARGE_GROUP_SHARE = 0.125
MIN_RUN = 4
# A chunk whose groups lie within this share of the canvas is drawn on a canvas of its own
# window and composited there alone: its sparse and dense work, and what backward keeps,
# follow the window, not the canvas (tiled scenes, such as a training batch).
WINDOW_MAX_SHARE = 0.5


def render_pieces(
    pieces: Pieces,
    paints: list[Color | None],
    *,
    solid: torch.Tensor | None = None,
    has_fill: list[bool] | None = None,
    gradient_fills: dict[int, LinearGradient | RadialGradient] | None = None,
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

    Fill-only scenes may pass ``solid`` (rows alternate fill, stroke), ``has_fill`` and
    ``gradient_fills`` (group -> gradient paint, in place of its solid row) instead of
    ``paints``.
    """
    if solid is None or has_fill is None:
        has_fill = [p is not None for p in paints[0::2]]
        has_stroke = [p is not None for p in paints[1::2]]
        solid = _solid_table(paints, dev, dt)
        gradients = [
            (i, p) for i, p in enumerate(paints) if isinstance(p, LinearGradient | RadialGradient)
        ]
    else:
        has_stroke = [False] * len(has_fill)
        gradients = sorted(
            ((2 * g, p) for g, p in (gradient_fills or {}).items()), key=lambda lp: lp[0]
        )
        if gradients:  # a gradient's layer takes its colour from the gradient alone
            rows = torch.tensor([lid for lid, _ in gradients], device=solid.device)
            solid = solid.index_fill(0, rows, 0.0)
    num_groups = len(has_fill)

    npix = width * height
    # What the chunks drew so far: premultiplied colour, alpha, log-transmittance (None:
    # nothing yet; the first chunk is taken as it is, not composited over zeros).
    drawn: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None
    if num_groups and pieces.a.shape[0]:
        # Fills (solid or gradient) go through the tiled stack in one piece when it pays:
        # its work follows the layers visible in each tile, and one chunk lets opaque
        # layers hide everything below them. Canvas-sized layers (a layered scene's
        # bottom) make it pay whatever sits on top of them.
        boxes = _group_boxes(pieces, has_stroke, num_groups)
        fills_only = not any(has_stroke) and all(lid % 2 == 0 for lid, _ in gradients)
        large = fills_only and _any_large_group(boxes, width, height)
        whole = fills_only and _dense_box(
            boxes,
            has_fill=has_fill,
            has_stroke=has_stroke,
            width=width,
            height=height,
            max_ratio=math.inf if large else STACK_MAX_RATIO,
            min_depth=STACK_MIN_DEPTH,
        )
        chunks = (
            [(0, num_groups, 0, int(pieces.a.shape[0]))]
            if whole
            else _plan_chunks(
                pieces,
                boxes,
                has_fill=has_fill,
                has_stroke=has_stroke,
                width=width,
                height=height,
                budget=chunk_entries,
            )
        )
        grad_on = torch.is_grad_enabled()
        for g0, g1, p0, p1 in chunks:
            a, b = pieces.a[p0:p1], pieces.b[p0:p1]
            chunk_boxes = boxes[g0:g1]
            cw, ch = width, height
            # Gradient paints are evaluated in canvas coordinates: those chunks keep it.
            window = (
                None
                if any(2 * g0 <= lid < 2 * g1 for lid, _ in gradients)
                else _chunk_window(chunk_boxes, width, height)
            )
            if window is not None:
                # Drawn on a canvas of the chunk's own window (exact: an integer shift).
                x0, y0, x1, y1 = window
                cw, ch = x1 - x0, y1 - y0
                a = a - a.new_tensor([x0, y0])
                b = b - b.new_tensor([x0, y0])
                chunk_boxes = chunk_boxes - chunk_boxes.new_tensor([x0, y0, x0, y0])
            args = (a, b, pieces.ha[p0:p1], pieces.hb[p0:p1], solid)
            chunk_fills = not any(has_stroke[g0:g1]) and not any(
                2 * g0 <= lid < 2 * g1 and lid % 2 for lid, _ in gradients
            )
            ratio = STACK_MAX_RATIO if chunk_fills else DENSE_MAX_RATIO
            ratio = math.inf if large else ratio  # the whole scene, chosen above
            box = _dense_box(
                chunk_boxes,
                has_fill=has_fill[g0:g1],
                has_stroke=has_stroke[g0:g1],
                width=cw,
                height=ch,
                max_ratio=ratio,
                min_depth=STACK_MIN_DEPTH if chunk_fills else math.inf,
            )
            # Fills rendered densely go through the edge-driven stack, which keeps no
            # dense intermediates for backward: checkpointing it would only add work.
            stacked = box is not None and chunk_fills

            def run(
                a: torch.Tensor,
                b: torch.Tensor,
                ha: torch.Tensor,
                hb: torch.Tensor,
                solid_t: torch.Tensor,
                *paint_tensors: torch.Tensor,
                g0: int = g0,
                g1: int = g1,
                p0: int = p0,
                p1: int = p1,
                box: tuple[int, int, int, int] | None = box,
                stacked: bool = stacked,
                cw: int = cw,
                ch: int = ch,
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
                    gradients=_with_tensors(gradients, paint_tensors),
                    box=box,
                    stacked=stacked,
                    width=cw,
                    height=ch,
                    samples=samples,
                )

            paint_args = _gradient_tensors(gradients)
            if len(chunks) > 1 and grad_on and not stacked:
                chunk = _Recompute.apply(run, *args, *paint_args)
            else:
                chunk = run(*args, *paint_args)
            if window is None:
                drawn = chunk if drawn is None else _over(chunk, drawn)
            else:
                drawn = _over_window(chunk, drawn, window, width, height)

    if drawn is None:
        zero = torch.zeros(npix, dtype=dt, device=dev)
        drawn = (zero[:, None].expand(npix, 3), zero, zero)
    if background is not None:
        bg = _background(background, width, height, dev, dt)
        drawn = _over(drawn, (bg[:, :3] * bg[:, 3:4], bg[:, 3], torch.zeros_like(bg[:, 3])))
    color, cover, _ = drawn
    visible = cover > 1e-8
    safe = torch.where(visible, cover, torch.ones_like(cover))
    straight = torch.where(visible[:, None], color / safe[:, None], torch.zeros_like(color))
    out = torch.cat([straight, cover[:, None].clamp(0, 1)], dim=1)
    return out.reshape(height, width, 4)


def _chunk_window(boxes: torch.Tensor, width: int, height: int) -> tuple[int, int, int, int] | None:
    """The part of the canvas a chunk draws on, ``(x0, y0, x1, y1)`` (ends exclusive): its
    groups' boxes (``[G, 4]``, :func:`_group_boxes`) grown by two pixels, on the canvas.
    None when that is most of the canvas: then the chunk is drawn on the whole of it."""
    ok = torch.isfinite(boxes).all(1)
    if not bool(ok.any()):
        return None
    box = boxes[ok]
    x0 = max(math.floor(float(box[:, 0].min())) - 2, 0)
    y0 = max(math.floor(float(box[:, 1].min())) - 2, 0)
    x1 = min(math.ceil(float(box[:, 2].max())) + 2, width)
    y1 = min(math.ceil(float(box[:, 3].max())) + 2, height)
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) > WINDOW_MAX_SHARE * width * height:
        return None
    return x0, y0, x1, y1


def _over_window(
    top: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    below: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None,
    window: tuple[int, int, int, int],
    width: int,
    height: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``top``, drawn on ``window``'s own canvas, composited over the canvas ``below``
    (None: nothing yet). Only the window's pixels are composited; the rest is copied."""
    x0, y0, x1, y1 = window
    dev, dt = top[1].device, top[1].dtype
    if below is None:
        zero = torch.zeros(width * height, dtype=dt, device=dev)
        below = (torch.zeros((width * height, 3), dtype=dt, device=dev), zero, zero)
    rows = torch.arange(y0, y1, device=dev)[:, None] * width
    idx = (rows + torch.arange(x0, x1, device=dev)[None, :]).reshape(-1)
    inside = _over(top, (take(below[0], idx), take(below[1], idx), take(below[2], idx)))
    return (
        below[0].index_copy(0, idx, inside[0]),
        below[1].index_copy(0, idx, inside[1]),
        below[2].index_copy(0, idx, inside[2]),
    )


def _over(
    top: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    below: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Two stacks (premultiplied colour, alpha, log-transmittance) composited as one."""
    color, cover, logt = top
    through = torch.exp(logt)
    return (
        color + through[:, None] * below[0],
        cover + through * below[1],
        logt + below[2],
    )


# The tensors of each gradient kind, in the order _with_tensors puts them back.
_GRADIENT_FIELDS: dict[type, tuple[str, ...]] = {
    LinearGradient: ("begin", "end", "offsets", "stop_colors"),
    RadialGradient: ("center", "radius", "offsets", "stop_colors"),
}


def _gradient_tensors(
    gradients: list[tuple[int, LinearGradient | RadialGradient]],
) -> list[torch.Tensor]:
    return [getattr(paint, f) for _, paint in gradients for f in _GRADIENT_FIELDS[type(paint)]]


def _with_tensors(
    gradients: list[tuple[int, LinearGradient | RadialGradient]],
    tensors: tuple[torch.Tensor, ...],
) -> list[tuple[int, LinearGradient | RadialGradient]]:
    """The gradients with their tensors replaced by ``tensors`` (from _gradient_tensors)."""
    out, it = [], iter(tensors)
    for lid, paint in gradients:
        twin = copy.copy(paint)
        for f in _GRADIENT_FIELDS[type(paint)]:
            setattr(twin, f, next(it))
        out.append((lid, twin))
    return out


class _Recompute(torch.autograd.Function):
    """A chunk whose intermediates are not kept: backward renders it again with autograd.

    Every tensor the chunk reads that may need a gradient is an explicit input. Written
    here rather than ``torch.utils.checkpoint``, whose first call imports ``torch._dynamo``
    (3-4 s in every fresh worker process on this CPU).
    """

    @staticmethod
    def forward(
        ctx: Any, fn: Callable[..., tuple[torch.Tensor, ...]], *inputs: torch.Tensor
    ) -> Any:
        ctx.fn = fn
        ctx.save_for_backward(*inputs)
        with torch.no_grad():
            return fn(*inputs)

    @staticmethod
    def backward(ctx: Any, *grads: torch.Tensor) -> Any:
        needs = ctx.needs_input_grad[1:]
        inputs = [
            t.detach().requires_grad_(n) for t, n in zip(ctx.saved_tensors, needs, strict=True)
        ]
        with torch.enable_grad():
            outs = ctx.fn(*inputs)
        pairs = [(o, g) for o, g in zip(outs, grads, strict=True) if o.requires_grad]
        wanted = [t for t in inputs if t.requires_grad]
        found: list[torch.Tensor | None] = [None] * len(wanted)
        if pairs and wanted:
            found = list(
                torch.autograd.grad(
                    [o for o, _ in pairs], wanted, [g for _, g in pairs], allow_unused=True
                )
            )
        it = iter(found)
        return (None, *(next(it) if t.requires_grad else None for t in inputs))


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


def _group_boxes(pieces: Pieces, has_stroke: list[bool], num_groups: int) -> torch.Tensor:
    """Every group's pixel bounds ``[G, 4]`` on the CPU (strokes grown by their half width
    and a pixel); groups without pieces get an empty (inverted) box."""
    with torch.no_grad():
        pad = pieces.ha.new_zeros(pieces.a.shape[0])
        if any(has_stroke):
            stroked = torch.tensor(has_stroke, dtype=torch.bool, device=pad.device)[pieces.group]
            half = torch.maximum(pieces.ha, pieces.hb).detach().clamp(min=0) + 1.0
            pad = torch.where(stroked, half, pad)
        return group_boxes(
            pieces.a.detach(), pieces.b.detach(), pieces.group, num_groups, pad
        ).cpu()


def _any_large_group(boxes: torch.Tensor, width: int, height: int) -> bool:
    """Whether a group's box covers at least LARGE_GROUP_SHARE of the canvas."""
    w = (boxes[:, 2].clamp(0, width) - boxes[:, 0].clamp(0, width)).clamp(min=0)
    h = (boxes[:, 3].clamp(0, height) - boxes[:, 1].clamp(0, height)).clamp(min=0)
    area = torch.where(torch.isfinite(w * h), w * h, 0.0)
    return bool((area >= LARGE_GROUP_SHARE * width * height).any())


def _plan_chunks(
    pieces: Pieces,
    boxes: torch.Tensor,
    *,
    has_fill: list[bool],
    has_stroke: list[bool],
    width: int,
    height: int,
    budget: int,
) -> list[tuple[int, int, int, int]]:
    """Split groups (in painter's order) into chunks of bounded estimated entry count."""
    num_groups = boxes.shape[0]
    box = boxes.numpy()
    with torch.no_grad():
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
    # Runs of canvas-sized groups (a layered scene's bottom) get chunks of their own, so
    # they render densely through the fill stack while small groups stay sparse.
    large = (w * h >= LARGE_GROUP_SHARE * width * height).astype(np.int64)
    change = np.flatnonzero(np.diff(large)) + 1
    starts = np.concatenate([[0], change])
    lengths = np.diff(np.concatenate([starts, [num_groups]]))
    breaks = {int(b) for b, n in zip(starts[1:], lengths[1:], strict=True) if n >= MIN_RUN}
    breaks |= {int(starts[i + 1]) for i in range(len(starts) - 1) if lengths[i] >= MIN_RUN}
    chunks: list[tuple[int, int, int, int]] = []
    start = 0
    acc = 0.0
    for gi in range(num_groups):
        if gi > start and (acc + est[gi] > budget or gi in breaks):
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
    box: tuple[int, int, int, int] | None,
    stacked: bool,
    width: int,
    height: int,
    samples: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Render groups ``g0..`` densely over ``box`` (None: sparse entries); ``stacked``
    chunks (fills only) take the edge-driven path of :mod:`pydiffvg.stack`."""
    dev = a.device
    ng = even_odd.shape[0]
    layers = torch.arange(ng, device=dev) * 2 + 2 * g0
    if all(has_fill):  # every piece: no copies (and no gradient gathers back)
        fill_a, fill_b, fill_group = a, b, group
    else:
        fill_groups = torch.tensor(has_fill, dtype=torch.bool, device=dev)
        fill_sel = torch.nonzero(fill_groups[group]).squeeze(1)
        fill_a, fill_b, fill_group = take(a, fill_sel), take(b, fill_sel), take(group, fill_sel)
    if stacked and box is not None:
        return fill_stack(
            fill_a,
            fill_b,
            fill_group,
            even_odd=even_odd,
            colors=solid[2 * g0 : 2 * (g0 + ng) : 2],
            gradients=[
                (lid // 2 - g0, paint)
                for lid, paint in gradients
                if 2 * g0 <= lid < 2 * (g0 + ng) and lid % 2 == 0
            ],
            box=box,
            width=width,
            height=height,
        )
    stroke_entries_ = None
    if any(has_stroke):
        stroke_groups = torch.tensor(has_stroke, dtype=torch.bool, device=dev)
        sel = torch.nonzero(stroke_groups[group] & stroke).squeeze(1)
        stroke_entries_ = stroke_entries(
            take(a, sel),
            take(b, sel),
            ha=take(ha, sel),
            hb=take(hb, sel),
            group=take(group, sel),
            layer_of_group=layers + 1,
            width=width,
            height=height,
            samples=samples,
        )
    if box is not None:
        return _render_dense(
            fill_a,
            fill_b,
            fill_group,
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
                fill_a,
                fill_b,
                fill_group,
                even_odd=even_odd,
                layer_of_group=layers,
                width=width,
                height=height,
            )
        )
    if stroke_entries_ is not None:
        parts.append(stroke_entries_)
    # Entries in compositing order (by pixel, then layer): gathered once, here.
    pixel = torch.cat([p.pixel for p in parts])
    layer = torch.cat([p.layer for p in parts])
    order = entry_order(pixel, layer)
    pixel, layer = take(pixel, order), take(layer, order)
    cov = take(torch.cat([p.cov for p in parts]), order)
    rgba = take(solid, layer)
    for lid, paint in gradients:
        if not 2 * g0 <= lid < 2 * (g0 + ng):
            continue
        idx = torch.nonzero(layer == lid).squeeze(1)
        if idx.numel():
            rgba = rgba.index_put((idx,), _eval_gradient(paint, pixel[idx], width, a.dtype, dev))
    return composite(pixel, cov * rgba[:, 3], rgba[:, :3], width * height)


def _dense_box(
    box: torch.Tensor,
    *,
    has_fill: list[bool],
    has_stroke: list[bool],
    width: int,
    height: int,
    max_ratio: float,
    min_depth: float = math.inf,
) -> tuple[int, int, int, int] | None:
    """The pixel box to render densely, or None when the chunk's shapes cover too little
    of their union box for dense layers to pay off: dense cells (layers x box pixels) may
    be at most ``max_ratio`` times the sum of the groups' own boxes (``box`` ``[G, 4]``,
    from :func:`_group_boxes`), or that sum must be at least ``min_depth`` box areas."""
    ng = len(has_fill)
    if ng < 2:
        return None
    lo_x = box[:, 0].clamp(0, width)
    lo_y = box[:, 1].clamp(0, height)
    hi_x = box[:, 2].clamp(0, width)
    hi_y = box[:, 3].clamp(0, height)
    ok = torch.isfinite(box).all(1) & (hi_x > lo_x) & (hi_y > lo_y)
    if not bool(ok.any()):
        return None
    paints = torch.tensor(has_fill, dtype=box.dtype) + torch.tensor(has_stroke, dtype=box.dtype)
    area = float(((hi_x - lo_x + 1) * (hi_y - lo_y + 1) * paints)[ok].sum())
    # An outline on the grid line x = k (y = k) also reaches cell k - 1 (pydiffvg.kinks).
    x0 = max(int(torch.ceil(lo_x[ok].min())) - 1, 0)
    y0 = max(int(torch.ceil(lo_y[ok].min())) - 1, 0)
    x1 = min(int(torch.floor(hi_x[ok].max())), width - 1)
    y1 = min(int(torch.floor(hi_y[ok].max())), height - 1)
    layers = ng * (2 if any(has_stroke) else 1)
    pixels = (x1 - x0 + 1) * (y1 - y0 + 1)
    dense = layers * pixels <= max_ratio * area or area >= min_depth * pixels
    return (x0, y0, x1, y1) if dense else None


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
    """Gradient colour at the centres of flat pixel indices ``pixel``."""
    p = torch.stack([pixel % width, pixel // width], dim=1).to(device=dev, dtype=dt) + 0.5
    return gradient_rgba(paint, p)
