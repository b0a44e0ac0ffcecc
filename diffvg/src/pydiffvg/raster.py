"""Coverage and compositing kernels written as batched tensor operations.

Fill coverage is exact box-filtered area coverage computed the way scanline font
rasterisers do it: every line piece is split at pixel-grid lines, each fragment adds its
signed height (split by its mean horizontal position) to an accumulation buffer that spans
its group's bounding box, and a prefix sum along each row turns those deltas into the
signed, winding-weighted area of every pixel. The non-zero rule clamps ``|area|`` to 1,
the even-odd rule folds it with a triangle wave. Everything is differentiable in the piece
end points, so boundary gradients come out of autograd directly and match finite
differences of the rendered image.

Stroke coverage uses the distance from each pixel centre to the group's outline (round
joins and caps, like DiffVG) and integrates a one-pixel box filter across the band.

Compositing sorts the (pixel, layer) entries and evaluates the over operator in closed
form: each layer's weight is its alpha times the transmittance of the layers above it,
computed with a segmented suffix sum of ``log(1 - alpha)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pydiffvg.gather import take
from pydiffvg.kinks import Fragments, on_grid_lines, one_sided_rule, turn_sides
from pydiffvg.segments import segment_bounds, sum_after

__all__ = [
    "OPAQUE_EPS",
    "Entries",
    "apply_rule",
    "box_fragments",
    "composite",
    "entry_order",
    "fill_entries",
    "fragments",
    "group_boxes",
    "ragged_arange",
    "stroke_entries",
]

# Opacity is scaled by (1 - OPAQUE_EPS) inside log(1 - a) so a fully opaque layer keeps a
# finite log and a usable gradient; the leak through it is 1e-6 of the layers below.
OPAQUE_EPS = 1e-6


def ragged_arange(counts: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For counts ``[n0, n1, ...]`` return (owner, local): owner ``i`` repeated ``n_i``
    times and local ``0..n_i-1``."""
    owner = torch.repeat_interleave(torch.arange(counts.shape[0], device=counts.device), counts)
    starts = torch.cumsum(counts, 0) - counts
    local = torch.arange(owner.shape[0], device=counts.device) - take(starts, owner)
    return owner, local


@dataclass
class Entries:
    """Sparse coverage: ``cov[k]`` of layer ``layer[k]`` at flat pixel ``pixel[k]``."""

    pixel: torch.Tensor
    layer: torch.Tensor
    cov: torch.Tensor


@torch.no_grad()
def group_boxes(
    a: torch.Tensor, b: torch.Tensor, group: torch.Tensor, num_groups: int, pad: torch.Tensor
) -> torch.Tensor:
    """Per-group bounds ``[G, 4]`` (minx, miny, maxx, maxy) of the pieces, grown by
    ``pad`` ``[N]`` per piece; groups without pieces get an empty (inverted) box."""
    dev, dt = a.device, a.dtype
    lo = torch.minimum(a, b) - pad[:, None]
    hi = torch.maximum(a, b) + pad[:, None]
    inf = torch.tensor(float("inf"), dtype=dt, device=dev)
    mins = inf.expand(num_groups, 2).clone()
    maxs = (-inf).expand(num_groups, 2).clone()
    idx = group[:, None].expand(-1, 2)
    mins.scatter_reduce_(0, idx, lo, "amin")
    maxs.scatter_reduce_(0, idx, hi, "amax")
    return torch.cat([mins, maxs], dim=1)


@torch.no_grad()
def _pixel_box(box: torch.Tensor, width: int, height: int) -> tuple[torch.Tensor, ...]:
    """Integer pixel ranges (x0, y0, x1, y1 inclusive) and visibility for boxes [G, 4]."""
    visible = (box[:, 2] > 0) & (box[:, 0] < width) & (box[:, 3] > 0) & (box[:, 1] < height)
    fin = torch.where(torch.isfinite(box), box, torch.zeros_like(box))
    # An outline on the grid line x = k (y = k) also reaches cell k - 1 (pydiffvg.kinks).
    x0 = (torch.ceil(fin[:, 0]) - 1).clamp(0, width - 1).long()
    y0 = (torch.ceil(fin[:, 1]) - 1).clamp(0, height - 1).long()
    x1 = torch.floor(fin[:, 2]).clamp(0, width - 1).long()
    y1 = torch.floor(fin[:, 3]).clamp(0, height - 1).long()
    return x0, y0, x1, y1, visible


def fill_entries(
    a: torch.Tensor,
    b: torch.Tensor,
    group: torch.Tensor,
    *,
    even_odd: torch.Tensor,
    layer_of_group: torch.Tensor,
    width: int,
    height: int,
) -> Entries:
    """Area coverage of every group's fill over its bounding box.

    ``a``/``b`` ``[N, 2]`` are the pieces of closed outlines, ``group`` ``[N]`` their group
    (0..G-1), ``even_odd`` ``[G]`` the fill rule, ``layer_of_group`` ``[G]`` the layer id.
    """
    dev = a.device
    num_groups = even_odd.shape[0]
    empty = Entries(
        torch.zeros(0, dtype=torch.long, device=dev),
        torch.zeros(0, dtype=torch.long, device=dev),
        a.new_zeros(0),
    )
    if a.shape[0] == 0 or num_groups == 0:
        return empty
    with torch.no_grad():
        box = group_boxes(a, b, group, num_groups, a.new_zeros(a.shape[0]))
        bx0, by0, bx1, by1, visible = _pixel_box(box, width, height)
        bw = bx1 - bx0 + 1
        stride = bw + 1  # one spare column catches deltas right of the canvas
        bh = by1 - by0 + 1
        size = torch.where(visible, bh * stride, torch.zeros_like(bh))
        off = torch.cumsum(size, 0) - size
        total = int(size.sum())
        if total == 0:
            return empty
        ay, by_ = a[:, 1], b[:, 1]
        keep = (
            take(visible, group)
            & ((ay != by_) | a.requires_grad)  # level pieces carry y gradients
            & (torch.maximum(ay, by_) > 0)
            & (torch.minimum(ay, by_) < height)
            & (torch.minimum(a[:, 0], b[:, 0]) < width)
        )
        kidx = torch.nonzero(keep).squeeze(1)
    f = fragments(take(a, kidx), take(b, kidx), take(group, kidx), width, height)
    g = f.g
    with torch.no_grad():
        base = take(off, g) + (f.cy - take(by0, g)) * take(stride, g)
        col0 = torch.minimum((f.cx - take(bx0, g)).clamp(min=0), take(bw, g))
        col1 = torch.minimum((f.cx + 1 - take(bx0, g)).clamp(min=0), take(bw, g))
        at = torch.cat([base + col0, base + col1])
    buf = a.new_zeros(total).index_add(0, at, torch.cat([f.dy * (1 - f.xm), f.dy * f.xm]))

    with torch.no_grad():
        rows_per_group = torch.where(visible, bh, torch.zeros_like(bh))
        row_group, row_local = ragged_arange(rows_per_group)
        row_start = take(off, row_group) + row_local * take(stride, row_group)
        row_len = take(stride, row_group)
        elem_row = torch.repeat_interleave(torch.arange(row_start.shape[0], device=dev), row_len)
        col = torch.arange(total, device=dev) - take(row_start, elem_row)
        eg = take(row_group, elem_row)
        inside = col < take(bw, eg)

    def row_sums(x: torch.Tensor) -> torch.Tensor:
        cs = torch.cumsum(x, 0)
        prev = torch.where(row_start > 0, take(cs, (row_start - 1).clamp(min=0)), 0.0)
        return cs - take(prev, elem_row)

    acc = row_sums(buf)
    side = None
    if f.dy.requires_grad and bool(f.turn.any()):
        turn = a.new_zeros(total).index_add(0, at, f.turn.T.reshape(-1).to(a.dtype))
        side = turn_sides(row_sums(turn))
    # Scenes of one fill rule skip the even-odd fold (None: non-zero everywhere).
    rule = take(even_odd, eg) if bool(even_odd.any()) else None
    cov = apply_rule(acc, rule, side)
    with torch.no_grad():
        keep_cell = cov.detach() > 1e-6
        if side is not None:  # an empty cell beside an edge on a grid line has a gradient
            keep_cell |= side != 0
        nz = torch.nonzero(inside & keep_cell).squeeze(1)
        erow, eg_nz = take(elem_row, nz), take(eg, nz)
        pixel = (
            (take(by0, eg_nz) + take(row_local, erow)) * width + take(bx0, eg_nz) + take(col, nz)
        )
        layer = take(layer_of_group, eg_nz)
    return Entries(pixel, layer, take(cov, nz))


def fragments(
    a: torch.Tensor, b: torch.Tensor, pg: torch.Tensor, width: int, height: int
) -> Fragments:
    """Split pieces at pixel-grid lines, clipped to the canvas: fragments left of it carry
    their height in from left of column 0, those right of or above it are dropped.

    Returns per fragment: group, cell column, cell row, signed height ``dy`` and mean
    horizontal position ``xm`` inside the cell (``dy``/``xm`` carry the gradient), and,
    when gradients are needed, the extra fragments and ``turn`` deposits of
    :func:`pydiffvg.kinks.on_grid_lines` for outlines lying on grid lines.
    """
    dev, dt = a.device, a.dtype
    d = b - a
    with torch.no_grad():
        ad, bd = a.detach(), b.detach()
        lo = torch.minimum(ad, bd)
        hi = torch.maximum(ad, bd)
        lim = torch.tensor([width, height], device=dev)
        k_start = torch.clamp(torch.floor(lo).long() + 1, min=0)
        k_end = torch.minimum(torch.ceil(hi).long() - 1, lim)
        nk = (k_end - k_start + 1).clamp(min=0)  # [N, 2] grid crossings in x and y
        counts = 2 + nk[:, 0] + nk[:, 1]
        owner, local = ragged_arange(counts)
        nx = take(nk[:, 0], owner)
        is_x = (local >= 2) & (local < 2 + nx)
        is_y = local >= 2 + nx
        start_k = take(k_start, owner)
        kval = torch.where(is_x, start_k[:, 0] + local - 2, start_k[:, 1] + local - 2 - nx).to(dt)
    ao = take(a, owner)
    do = take(d, owner)
    safe_dx = torch.where(do[:, 0] == 0, torch.ones_like(do[:, 0]), do[:, 0])
    safe_dy = torch.where(do[:, 1] == 0, torch.ones_like(do[:, 1]), do[:, 1])
    tx = (kval - ao[:, 0]) / safe_dx
    ty = (kval - ao[:, 1]) / safe_dy
    t = torch.where(is_x, tx, torch.where(is_y, ty, (local == 1).to(dt)))
    with torch.no_grad():
        perm = torch.argsort(_crossing_key(owner, t.detach()))
    t = take(t, perm)
    with torch.no_grad():  # only slanted pieces can cross both lines at one point
        slanted = (do[:, 0] != 0) & (do[:, 1] != 0)
    # The sort keeps each piece's crossings together (owner is non-decreasing and the key
    # orders by owner first), so ao and do need no permuting.
    q = _snap_corners(ao + t[:, None] * do, (is_x & slanted)[perm], (is_y & slanted)[perm])
    with torch.no_grad():
        # Crossings above / left / right of the canvas, before they are clamped to it.
        above = q[:, 1].detach() < 0
        left = q[:, 0].detach() < 0
        right = q[:, 0].detach() > width
    box_hi = torch.tensor([float(width), float(height)], dtype=dt, device=dev)
    q = torch.minimum(q.clamp(min=0), box_hi)
    grad = q.requires_grad
    with torch.no_grad():
        # Fragment k runs from crossing k to k + 1 of the same piece. Kept: those in a
        # canvas row and not right of it (they would change no pixel), and of the level
        # ones, which add no area, those whose y has a derivative, with gradients: not
        # those clamped from above the canvas onto y = 0, nor those between two crossings
        # of a slanted piece (level only where it passes a grid corner: one y is a grid
        # line's, the other snapped to it).
        qd = q.detach()
        dyd = qd[1:, 1] - qd[:-1, 1]
        mid = 0.5 * (qd[1:] + qd[:-1])
        cx = torch.floor(mid[:, 0]).long()
        cy = torch.floor(mid[:, 1]).long()
        same = owner[:-1] == owner[1:]
        row_ok = same & (cy >= 0) & (cy < height) & ~(right[:-1] | right[1:])
        if grad:
            inner = torch.zeros_like(same)  # neither end is an end point of the piece
            inner[1:-1] = same[:-2] & same[2:]
            corner = inner & take(d.detach()[:, 1] != 0, owner[:-1])
            row_ok &= (dyd != 0) | ~(above[:-1] | above[1:] | corner)
        else:
            row_ok &= dyd != 0
        start = torch.nonzero(row_ok).squeeze(1)
        piece = take(owner, start)
        first_at = take(torch.cumsum(counts, 0) - counts, piece)
        ends = (start == first_at, start + 1 == first_at + take(counts, piece) - 1)
        g = take(pg, piece)
        # A fragment left of the canvas, clamped onto x = 0 (an end left of it, the other
        # at most on it), is not an edge on that grid line (its x has no derivative): it
        # goes left of column 0 (xm = 1), where its height reaches its whole row.
        outside = (take(left, start) | take(left, start + 1)) & (take(mid[:, 0], start) == 0)
        cx = torch.where(outside, -1, take(cx, start))
        cy = take(cy, start)
    q0, q1 = take(q, start), take(q, start + 1)
    dyf = q1[:, 1] - q0[:, 1]
    xm = 0.5 * (q0[:, 0] + q1[:, 0]) - cx.to(dt)
    frags = Fragments(g, cx, cy, dyf, xm, dyf.new_zeros(start.shape[0], 2))
    if grad:
        frags = on_grid_lines(frags, q0, q1, ends, height)
    return frags


def _crossing_key(owner: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Sort key of the crossings: by piece (``owner``), then by ``t`` in [0, 1].

    For float32, an int64 key (integer sorts are several times faster than float ones
    on the CPU): the piece above the bits of ``t``, which order as the values do for
    non-negative floats (``+ 0.0`` turns -0.0 into 0.0), so the order is exact."""
    t = t.clamp(0, 1)
    if t.dtype == torch.float32:
        return (owner << 31) | (t + 0.0).view(torch.int32).to(torch.int64)
    return owner.to(torch.float64) * 2.0 + t.to(torch.float64)


def _snap_corners(q: torch.Tensor, is_x: torch.Tensor, is_y: torch.Tensor) -> torch.Tensor:
    """A piece through a grid corner crosses both lines at one point; computed twice,
    the two crossings differ by rounding and the zero-length fragment between them lands
    in either row, its derivative with it (a whole row's gradient came out wrong). The
    corner is used as a fixed point instead."""
    with torch.no_grad():
        near = torch.round(q)
        tol = 64 * torch.finfo(q.dtype).eps * q.abs().clamp(min=1)
        on = (q - near).abs() <= tol
        snap_y = is_x & on[:, 1]
        snap_x = is_y & on[:, 0]
    if not bool(snap_x.any() or snap_y.any()):
        return q
    return torch.stack(
        [torch.where(snap_x, near[:, 0], q[:, 0]), torch.where(snap_y, near[:, 1], q[:, 1])], 1
    )


def box_fragments(
    a: torch.Tensor,
    b: torch.Tensor,
    group: torch.Tensor,
    *,
    box: tuple[int, int, int, int],
    width: int,
    height: int,
) -> Fragments:
    """:func:`fragments` of the pieces that can reach the pixel box ``(x0, y0, x1, y1)``,
    keeping those in the box's rows (fragments left of it still carry their height)."""
    _, y0, x1, y1 = box
    with torch.no_grad():
        ay, by_ = a[:, 1], b[:, 1]
        keep = (
            ((ay != by_) | a.requires_grad)  # level pieces carry y gradients
            & (torch.maximum(ay, by_) > y0)
            & (torch.minimum(ay, by_) < y1 + 1)
            & (torch.minimum(a[:, 0], b[:, 0]) < x1 + 1)
        )
        kidx = torch.nonzero(keep).squeeze(1)
    f = fragments(take(a, kidx), take(b, kidx), take(group, kidx), width, height)
    with torch.no_grad():
        ok = torch.nonzero((f.cy >= y0) & (f.cy <= y1)).squeeze(1)
    return f.take(ok)


def apply_rule(
    acc: torch.Tensor, even_odd: torch.Tensor | None, side: torch.Tensor | None = None
) -> torch.Tensor:
    """Signed winding area -> coverage (non-zero: clamp |a| to 1; even-odd: fold mod 2).

    ``even_odd`` broadcasts against ``acc``; None means the non-zero rule everywhere.
    ``side`` (:func:`pydiffvg.kinks.turn_sides`) marks cells beside an outline on a grid
    line, whose area may sit exactly on a kink of the rule: there the slope is the one on
    the side the area moves to when the outline moves into the cell."""
    mag = acc.abs()
    # Written so that at |a| = 1 both rules take the slope from below (inside a shape whose
    # edge lies on a grid line the area is exactly 1; torch's abs would give 0 there).
    cov = mag.clamp(max=1.0)
    if even_odd is not None:
        folded = torch.remainder(mag, 2.0)
        cov = torch.where(even_odd, torch.where(folded <= 1, folded, 2 - folded), cov)
    if side is None or not acc.requires_grad:
        return cov
    rule = torch.zeros_like(side, dtype=torch.bool) if even_odd is None else even_odd
    return one_sided_rule(acc, cov, rule, side)


def fill_dense(
    a: torch.Tensor,
    b: torch.Tensor,
    group: torch.Tensor,
    *,
    even_odd: torch.Tensor,
    box: tuple[int, int, int, int],
    width: int,
    height: int,
) -> torch.Tensor:
    """Fill coverage of every group over the pixel box ``(x0, y0, x1, y1)`` (inclusive),
    as a dense ``[G, rows * cols]`` tensor (for chunks where shapes cover most of it)."""
    x0, y0, x1, y1 = box
    cols = x1 - x0 + 1
    rows = y1 - y0 + 1
    num_groups = even_odd.shape[0]
    buf = a.new_zeros(num_groups * rows * (cols + 1))
    side = None

    def row_sums(x: torch.Tensor) -> torch.Tensor:
        return torch.cumsum(x.view(num_groups, rows, cols + 1), dim=2)[:, :, :cols].reshape(
            num_groups, rows * cols
        )

    if a.shape[0]:
        f = box_fragments(a, b, group, box=box, width=width, height=height)
        with torch.no_grad():
            base = (f.g * rows + (f.cy - y0)) * (cols + 1)
            at = torch.cat(
                [base + (f.cx - x0).clamp(0, cols), base + (f.cx + 1 - x0).clamp(0, cols)]
            )
        buf = buf.index_add(0, at, torch.cat([f.dy * (1 - f.xm), f.dy * f.xm]))
        if f.dy.requires_grad:
            turn = buf.new_zeros(buf.shape).index_add(0, at, f.turn.T.reshape(-1).to(buf.dtype))
            side = turn_sides(row_sums(turn))
    acc = row_sums(buf)
    cov = apply_rule(acc, even_odd[:, None], side)
    # Rounding leaves ~1e-8 residues outside shapes; drop them as the sparse path does
    # (an empty cell beside an edge on a grid line keeps its gradient).
    keep = cov.detach() > 1e-6
    if side is not None:
        keep |= side != 0
    return cov * keep


def stroke_entries(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    ha: torch.Tensor,
    hb: torch.Tensor,
    group: torch.Tensor,
    layer_of_group: torch.Tensor,
    width: int,
    height: int,
    samples: int = 1,
) -> Entries:
    """Coverage of round-joined, round-capped strokes of half width ``ha..hb``.

    Each pixel is split into ``samples x samples`` cells; a cell's coverage is the overlap
    of its box (across the outline direction) with the band ``[-h, h]`` around the nearest
    piece (the union over pieces is their maximum), and the pixel averages its cells.
    """
    dev, dt = a.device, a.dtype
    empty = Entries(
        torch.zeros(0, dtype=torch.long, device=dev),
        torch.zeros(0, dtype=torch.long, device=dev),
        a.new_zeros(0),
    )
    if a.shape[0] == 0:
        return empty
    with torch.no_grad():
        hmax = torch.maximum(ha, hb).detach().clamp(min=0)
        length = (b - a).detach().norm(dim=1)
        # Split long pieces so each one's pixel window stays close to its band.
        step = torch.clamp(2 * hmax + 1, min=2.0)
        nsub = torch.ceil(length / step).clamp(min=1).long()
        owner, local = ragged_arange(nsub)
        ns = take(nsub, owner).to(dt)
        s0 = local.to(dt) / ns
        s1 = (local + 1).to(dt) / ns
    d = b - a
    a_o, d_o = take(a, owner), take(d, owner)
    sa = a_o + s0[:, None] * d_o
    sb = a_o + s1[:, None] * d_o
    ha_o, dh_o = take(ha, owner), take(hb - ha, owner)
    sha = ha_o + s0 * dh_o
    shb = ha_o + s1 * dh_o
    sg = take(group, owner)
    with torch.no_grad():
        reach = torch.maximum(sha, shb).detach().clamp(min=0) + 0.5
        lo = torch.minimum(sa, sb).detach() - reach[:, None] - 0.5
        hi = torch.maximum(sa, sb).detach() + reach[:, None] - 0.5
        lim = torch.tensor([width - 1, height - 1], device=dev)
        p_lo = torch.ceil(lo).long().clamp(min=0)
        p_hi = torch.minimum(torch.floor(hi).long(), lim)
        ext = (p_hi - p_lo + 1).clamp(min=0)
        counts = ext[:, 0] * ext[:, 1]
        cells = samples * samples
        pown, plocal = ragged_arange(counts * cells)
        sub = plocal % cells
        plocal = plocal // cells
        wx = ext[pown, 0]
        px = p_lo[pown, 0] + plocal % wx
        py = p_lo[pown, 1] + plocal // wx
        offset = (torch.stack([sub % samples, sub // samples], dim=1).to(dt) + 0.5) / samples
        centre = torch.stack([px, py], dim=1).to(dt) + offset
    pa = take(sa, pown)
    pd = take(sb - sa, pown)
    rel = centre - pa
    len2 = (pd * pd).sum(1)
    tt = ((rel * pd).sum(1) / len2.clamp(min=1e-12)).clamp(0, 1)
    diff = rel - tt[:, None] * pd
    dist = torch.sqrt((diff * diff).sum(1).clamp(min=1e-12))
    h = take(sha, pown) + tt * take(shb - sha, pown)
    half_cell = 0.5 / samples
    cov = (torch.minimum(dist + half_cell, h) - torch.maximum(dist - half_cell, -h)).clamp(
        0, 2 * half_cell
    )
    with torch.no_grad():
        pix_key = take(sg, pown) * (width * height) + py * width + px
        uniq, inv = torch.unique(pix_key * cells + sub, return_inverse=True)
    best = cov.new_zeros(uniq.shape[0]).scatter_reduce(0, inv, cov, "amax", include_self=True)
    if cells > 1:
        with torch.no_grad():
            uniq, inv = torch.unique(uniq // cells, return_inverse=True)
        best = best.new_zeros(uniq.shape[0]).index_add(0, inv, best) / cells
    else:
        uniq = uniq // cells
    best = best * samples  # per-cell coverage was measured in cell widths of 1/samples
    with torch.no_grad():
        nz = torch.nonzero(best.detach() > 1e-6).squeeze(1)
        ukey = take(uniq, nz)
        pixel = ukey % (width * height)
        layer = layer_of_group[ukey // (width * height)]
    return Entries(pixel, layer, take(best, nz))


@torch.no_grad()
def entry_order(pixel: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
    """The permutation that sorts sparse entries by pixel, then layer (the order
    :func:`composite` takes them in)."""
    if pixel.shape[0] == 0:
        return pixel
    nlayers = int(layer.max()) + 1
    return torch.argsort(pixel * nlayers + layer)


def composite(
    pixel: torch.Tensor,
    alpha: torch.Tensor,
    rgb: torch.Tensor,
    num_pixels: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Over-composite sparse layers in closed form; the entries come sorted by pixel, and
    within a pixel bottom layer first (:func:`entry_order`).

    Returns premultiplied colour ``[P, 3]``, alpha ``[P]`` and the log-transmittance
    ``[P]`` of the whole stack (what shows through to anything underneath).
    """
    color = rgb.new_zeros((num_pixels, 3))
    cover = alpha.new_zeros(num_pixels)
    logt = alpha.new_zeros(num_pixels)
    if pixel.shape[0] == 0:
        return color, cover, logt
    # Colours outside [0, 1] (e.g. mid-optimisation) must not break log(1 - a).
    sa = alpha.clamp(0.0, 1.0)
    log1m = torch.log1p(-sa * (1 - OPAQUE_EPS))
    above = torch.exp(sum_after(log1m, *segment_bounds(pixel)))  # transmittance on top
    weight = sa * above
    color = color.index_add(0, pixel, weight[:, None] * rgb)
    cover = cover.index_add(0, pixel, weight)
    logt = logt.index_add(0, pixel, log1m)
    return color, cover, logt


def composite_dense(
    alpha: torch.Tensor, rgb: torch.Tensor, extra_rgb: dict[int, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Over-composite dense layers ``alpha`` ``[L, P]`` (last layer on top).

    ``rgb`` ``[L, 3]`` are per-layer colours; ``extra_rgb`` maps a layer to per-pixel
    colours ``[P, 3]`` (gradient paints; their ``rgb`` row must be zero). Returns the same
    triple as :func:`composite`.
    """
    a = alpha.clamp(0.0, 1.0)
    log1m = torch.log1p(-a * (1 - OPAQUE_EPS))
    # Transmittance of everything above layer l: exp(sum_{j > l} log(1 - a_j)).
    total = log1m.sum(0)
    above = total - torch.cumsum(log1m, 0)
    weight = a * torch.exp(above)
    color = weight.transpose(0, 1) @ rgb
    for layer, values in extra_rgb.items():
        color = color + weight[layer][:, None] * values
    return color, weight.sum(0), total
