"""Edge-driven rendering of a stack of solid-colour filled layers over a pixel box.

Fill coverage of a closed outline is exact area. A pixel that no outline passes through
has an integer winding number, so its coverage is exactly 0 or 1 and does not depend on
the points: the gradient with respect to points lives on *edge cells* only (cells that
hold a fragment of an outline). Their coverage is computed sparsely, with autograd, from
the fragments (a segmented prefix sum along each row), at a cost that follows the
outlines' length, not their area.

The dense per-(pixel, layer) work (winding accumulation, the 0/1 interior and painter's
order compositing) runs in :class:`_FillStack` without an autograd graph, in place in a
workspace of bounded size, one band of rows at a time; the backward pass recomputes each
band and forms the colour, opacity and edge-coverage gradients as closed-form sums. Layers
are stored top-first in a ``[pixel, layer]`` layout, so the row prefix sum (winding) and
the layer prefix sum (transmittance) both run along contiguous memory, and the interior's
``log(1 - a)`` is one multiply by a per-layer constant (no logarithm of big tensors).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from pydiffvg.kinks import turn_sides
from pydiffvg.raster import OPAQUE_EPS, apply_rule, box_fragments

__all__ = ["STACK_WORKSPACE_BYTES", "fill_stack"]

# Bytes of dense workspace one band may use (three [pixels, layers] buffers). Sized so a
# band's buffers stay in the last-level cache of a CPU; memory use does not grow with the
# canvas or the layer count beyond this.
STACK_WORKSPACE_BYTES = 96 << 20

# Opacity is scaled by _KEEP in 1 - a (see raster.OPAQUE_EPS).
_KEEP = 1 - OPAQUE_EPS
_ONE = torch.ones(())


@dataclass
class _Plan:
    """What the dense pass needs, all without gradient: winding deposits and edge cells as
    flat indices into ``[rows, stride, layers]`` (sorted), split into bands of rows."""

    rows: int
    stride: int
    layers: int
    band_rows: int
    dep_idx: torch.Tensor
    dep_val: torch.Tensor
    dep_cut: list[int]
    edge_idx: torch.Tensor
    edge_cut: list[int]
    eo_cols: torch.Tensor | None
    all_eo: bool


def fill_stack(
    a: torch.Tensor,
    b: torch.Tensor,
    group: torch.Tensor,
    *,
    even_odd: torch.Tensor,
    colors: torch.Tensor,
    box: tuple[int, int, int, int],
    width: int,
    height: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Composite the fills of ``G`` groups (last on top) over the pixel box ``(x0, y0, x1,
    y1)`` (inclusive).

    ``a``/``b`` ``[N, 2]`` are the pieces of closed outlines, ``group`` ``[N]`` their group
    (0..G-1), ``even_odd`` ``[G]`` the fill rule and ``colors`` ``[G, 4]`` straight RGBA.
    Returns premultiplied colour ``[H*W, 3]``, alpha ``[H*W]`` and log-transmittance
    ``[H*W]`` over the whole canvas (zero outside the box), differentiable in the pieces
    and the colours.
    """
    dev, dt = a.device, a.dtype
    x0, y0, x1, y1 = box
    cols, rows = x1 - x0 + 1, y1 - y0 + 1
    stride = cols + 1  # a spare column takes the deposits right of the box
    num_groups = even_odd.shape[0]
    f = box_fragments(a, b, group, box=box, width=width, height=height)
    f = f.take(torch.nonzero(f.cx <= x1).squeeze(1))  # right of the box: no cell changes
    cell = (f.cx - x0).clamp(min=-1)
    frag = _Fragments(col=f.g, row=f.cy - y0, cell=cell, dy=f.dy, xm=f.xm, turn=f.turn)
    edge_cov, plan = _plan(frag, even_odd, rows=rows, cols=cols, layers=num_groups)
    top_first = torch.arange(num_groups - 1, -1, -1, device=dev)
    rgba = colors[top_first]
    out, logt = _FillStack.apply(edge_cov, rgba[:, 3].clamp(0.0, 1.0), rgba[:, :3], plan)
    out = out.view(rows, stride, 4)[:, :cols].reshape(rows * cols, 4)
    logt = logt.view(rows, stride)[:, :cols].reshape(rows * cols)
    npix = width * height
    if rows * cols == npix:
        return out[:, :3], out[:, 3], logt
    ys = torch.arange(y0, y1 + 1, device=dev)
    xs = torch.arange(x0, x1 + 1, device=dev)
    pixels = (ys[:, None] * width + xs[None, :]).reshape(-1)
    full = torch.zeros((npix, 5), dtype=dt, device=dev)
    full = full.index_copy(0, pixels, torch.cat([out, logt[:, None]], dim=1))
    return full[:, :3], full[:, 3], full[:, 4]


@dataclass
class _Fragments:
    """Outline fragments inside the box's rows: layer column (top-first), row, cell column
    (-1: left of the box), signed height ``dy`` and mean position ``xm`` in the cell."""

    col: torch.Tensor
    row: torch.Tensor
    cell: torch.Tensor
    dy: torch.Tensor
    xm: torch.Tensor
    turn: torch.Tensor  # see pydiffvg.kinks.Fragments


def _plan(
    frag: _Fragments, even_odd: torch.Tensor, *, rows: int, cols: int, layers: int
) -> tuple[torch.Tensor, _Plan]:
    """Exact coverage of the edge cells (differentiable) and the dense pass's plan."""
    dev, dt = frag.dy.device, frag.dy.dtype
    stride = cols + 1
    col = layers - 1 - frag.col  # top-first
    eo_top = even_odd.flip(0)
    # Edge cells: coverage = full heights of the row's fragments left of the cell plus
    # the part of the cell's own fragments left of their mean position.
    with torch.no_grad():
        key = (col * rows + frag.row) * (cols + 2) + (frag.cell + 1)
        ukey, inv = torch.unique(key, return_inverse=True)
        seg = ukey // (cols + 2)
        _, seg_inv, seg_counts = torch.unique_consecutive(
            seg, return_inverse=True, return_counts=True
        )
        seg_first = torch.cumsum(seg_counts, 0) - seg_counts

    def row_sums(full: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        before = torch.cumsum(full.to(torch.float64), 0) - full.to(torch.float64)
        return (before - before[seg_first][seg_inv]).to(dt) + own

    def per_cell(x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(ukey.shape[0]).index_add(0, inv, x)

    acc = row_sums(per_cell(frag.dy), per_cell(frag.dy * (1 - frag.xm)))
    side = None
    if frag.dy.requires_grad:
        with torch.no_grad():
            turn = frag.turn.to(dt)
            side = turn_sides(row_sums(per_cell(turn.sum(1)), per_cell(turn[:, 0])))
    with torch.no_grad():
        ucell = ukey % (cols + 2) - 1
        is_edge = torch.nonzero(ucell >= 0).squeeze(1)
        urow = seg % rows
        ucol = seg // rows
        eflat = ((urow * stride + ucell) * layers + ucol)[is_edge]
        eflat, eperm = torch.sort(eflat)
        eidx = is_edge[eperm]
    edge_cov = apply_rule(acc[eidx], eo_top[ucol[eidx]], None if side is None else side[eidx])

    with torch.no_grad():
        inside = frag.cell >= 0
        c0 = frag.cell.clamp(min=0)
        base = frag.row * stride
        dy, xm = frag.dy.detach(), frag.xm.detach()
        dep_idx = torch.cat([(base + c0) * layers + col, (base + frag.cell + 1) * layers + col])
        dep_val = torch.cat(
            [torch.where(inside, dy * (1 - xm), dy), torch.where(inside, dy * xm, 0)]
        )
        dep_idx, dperm = torch.sort(dep_idx)
        dep_val = dep_val[dperm]
        per_row = stride * layers
        band_rows = max(1, min(rows, STACK_WORKSPACE_BYTES // (3 * per_row * dt.itemsize)))
        cuts = torch.arange(0, rows + band_rows, band_rows, device=dev).clamp(max=rows) * per_row
        cuts = torch.unique_consecutive(cuts)
        dep_cut = torch.searchsorted(dep_idx, cuts).tolist()
        edge_cut = torch.searchsorted(eflat, cuts).tolist()
        eo_cols = torch.nonzero(eo_top).squeeze(1)
    plan = _Plan(
        rows=rows,
        stride=stride,
        layers=layers,
        band_rows=band_rows,
        dep_idx=dep_idx,
        dep_val=dep_val.to(dt),
        dep_cut=dep_cut,
        edge_idx=eflat,
        edge_cut=edge_cut,
        eo_cols=eo_cols if eo_cols.numel() else None,
        all_eo=bool(eo_cols.numel() == layers),
    )
    return edge_cov, plan


class _Band:
    """One band of rows of the dense pass, recomputed identically in the forward and
    backward passes: coverage ``x`` ``[pixels, layers]`` and transmittance ``t``
    ``[pixels, layers]`` (product of ``1 - alpha`` over the layers above)."""

    def __init__(self, plan: _Plan, like: torch.Tensor) -> None:
        n = plan.band_rows * plan.stride * plan.layers
        self.plan = plan
        self.xbuf = like.new_empty(n)
        self.tbuf = like.new_empty(n)

    def run(self, k: int, alpha: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Fill band ``k``; returns (x, t, edge positions in the band, edge coverage)."""
        p = self.plan
        r0 = k * p.band_rows
        nrows = min(p.band_rows, p.rows - r0)
        npix = nrows * p.stride
        base = r0 * p.stride * p.layers
        x = self.xbuf[: npix * p.layers]
        x.zero_()
        d0, d1 = p.dep_cut[k], p.dep_cut[k + 1]
        x.index_add_(0, p.dep_idx[d0:d1] - base, p.dep_val[d0:d1])
        x = x.view(nrows, p.stride, p.layers)
        x.cumsum_(1)
        x = x.view(npix, p.layers)
        if p.eo_cols is not None:
            m = x[:, p.eo_cols] if not p.all_eo else x.clone()
            m = 1 - (torch.remainder(m.abs_(), 2.0) - 1).abs_()
        x.abs_().clamp_(max=1.0)
        if p.eo_cols is not None:
            if p.all_eo:
                x.copy_(m)
            else:
                x[:, p.eo_cols] = m
        e0, e1 = p.edge_cut[k], p.edge_cut[k + 1]
        epos = p.edge_idx[e0:e1] - base
        ecov = x.view(-1)[epos]
        # t[:, l] = prod over the layers above l (columns < l) of (1 - alpha x); a product
        # scan instead of exp(sum of logs): no transcendental function on dense cells.
        t = self.tbuf[: npix * p.layers].view(npix, p.layers)
        t[:, 0] = 1.0
        torch.addcmul(_ONE.to(x), x[:, :-1], -(alpha[:-1] * _KEEP), out=t[:, 1:])
        t.cumprod_(1)
        return x, t, epos, ecov


def _log_transmittance(
    x: torch.Tensor, epos: torch.Tensor, ecov: torch.Tensor, alpha: torch.Tensor
) -> torch.Tensor:
    """sum over layers of log(1 - alpha x): exact as x * log(1 - alpha) where x is 0 or 1,
    corrected at edge cells."""
    nl = alpha.shape[0]
    log1m = torch.log1p(-alpha * _KEEP)
    logt = torch.mv(x, log1m)
    col = epos % nl
    fix = torch.log1p(-ecov * alpha[col] * _KEEP) - ecov * log1m[col]
    return logt.index_add_(0, epos // nl, fix)


class _FillStack(torch.autograd.Function):
    """Painter's-order compositing of dense fill layers with a recomputing backward.

    Inputs: edge-cell coverage ``[E]`` (ordered as ``plan.edge_idx``), per-layer opacity
    ``[L]`` and colour ``[L, 3]`` (top-first). Outputs over the box (``rows * stride``
    pixels): premultiplied colour and alpha ``[P, 4]`` and log-transmittance ``[P]``.
    """

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, edge_cov: torch.Tensor, alpha: torch.Tensor, rgb: torch.Tensor, plan: _Plan
    ) -> tuple[torch.Tensor, torch.Tensor]:
        ctx.save_for_backward(edge_cov, alpha, rgb)
        ctx.plan = plan
        npix = plan.rows * plan.stride
        out_t = alpha.new_empty((4, npix))
        logt = alpha.new_empty(npix)
        weights_t = torch.cat([alpha[None] * rgb.T, alpha[None]], dim=0)  # [4, L]
        band = _Band(plan, alpha)
        for k in range(len(plan.dep_cut) - 1):
            x, t, epos, ecov = band.run(k, alpha)
            p0 = k * plan.band_rows * plan.stride
            p1 = p0 + x.shape[0]
            logt[p0:p1] = _log_transmittance(x, epos, ecov, alpha)
            torch.mm(weights_t, t.mul_(x).T, out=out_t[:, p0:p1])
        # Rounding leaves ~1e-8 coverage residues where the winding is 0: pixels whose
        # total alpha is below 1e-6 (as the sparse path's entries) are left empty.
        empty = out_t[3] < 1e-6
        out_t[:, empty] = 0.0
        logt[empty] = 0.0
        ctx.empty = empty
        return out_t.T, logt

    @staticmethod
    def backward(  # type: ignore[override]
        ctx: Any, g_out: torch.Tensor, g_logt: torch.Tensor
    ) -> tuple[torch.Tensor | None, torch.Tensor | None, torch.Tensor | None, None]:
        edge_cov, alpha, rgb = ctx.saved_tensors
        plan: _Plan = ctx.plan
        nl = plan.layers
        weights = torch.cat([alpha[:, None] * rgb, alpha[:, None]], dim=1)
        # d log(1 - a x) / d(a x) = -KEEP / (1 - a x KEEP); interior cells have x = 1.
        slope = _KEEP / (1 - alpha * _KEEP)
        g_weights = weights.new_zeros((nl, 4))
        g_alpha_log = alpha.new_zeros(nl)
        g_edge = edge_cov.new_zeros(edge_cov.shape)
        band = _Band(plan, alpha)
        zbuf = alpha.new_empty(plan.band_rows * plan.stride * nl)
        keep_pixel = (~ctx.empty)[:, None].to(g_out.dtype)
        g_out_t = (g_out * keep_pixel).T.contiguous()  # [4, P]
        g_logt = g_logt * keep_pixel[:, 0]
        for k in range(len(plan.dep_cut) - 1):
            x, t, epos, ecov = band.run(k, alpha)
            epix, ecol = epos // nl, epos % nl
            p0 = k * plan.band_rows * plan.stride
            p1 = p0 + x.shape[0]
            gb = g_out_t[:, p0:p1]
            t_edge = t[epix, ecol]
            w = t.mul_(x)  # weight of each layer's colour: x * T (alpha is in `weights`)
            g_weights += (gb @ w).T
            # z[p, l] = alpha_l * (rgb_l . g_colour + g_alpha): gradient of one unit weight,
            # as a sum of four outer products (faster than a [P, 4] x [4, L] product).
            z = torch.outer(gb[0], weights[:, 0], out=zbuf[: x.shape[0] * nl].view(-1, nl))
            for c in range(1, 4):
                z.addr_(gb[c], weights[:, c])
            z_edge = z[epix, ecol]
            z.mul_(w).cumsum_(1)
            # r[p, l] = d loss / d log(1 - a_l x_l): everything painted below l, and logt.
            s = z[:, nl - 1] + g_logt[p0:p1]
            r = torch.sub(s[:, None], z, out=z)
            r_edge = r[epix, ecol]
            g_alpha_log -= slope * r.mul_(x).sum(0)
            a_edge = alpha[ecol]
            slope_edge = _KEEP / (1 - a_edge * ecov * _KEEP)
            g_alpha_log.index_add_(0, ecol, ecov * (slope[ecol] - slope_edge) * r_edge)
            e0, e1 = plan.edge_cut[k], plan.edge_cut[k + 1]
            g_edge[e0:e1] = z_edge * t_edge - a_edge * slope_edge * r_edge
        g_rgb = alpha[:, None] * g_weights[:, :3]
        g_alpha = g_alpha_log + (rgb * g_weights[:, :3]).sum(1) + g_weights[:, 3]
        return g_edge, g_alpha, g_rgb, None
