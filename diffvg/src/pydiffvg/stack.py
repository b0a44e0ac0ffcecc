"""Edge-driven, tiled rendering of a stack of solid-colour filled layers over a pixel box.

Fill coverage of a closed outline is exact area. A pixel that no outline passes through
has an integer winding number, so its coverage is exactly 0 or 1 and does not depend on
the points: the gradient with respect to points lives on *edge cells* only (cells that
hold a fragment of an outline). Their coverage is computed sparsely, with autograd, from
the fragments (a segmented prefix sum along each row), at a cost that follows the
outlines' length, not their area.

The box is cut into square tiles. A (tile, layer) pair is *partial* when an outline of
the layer passes through the tile, otherwise the layer covers the whole tile or none of
it (one winding number, looked up from the sorted winding deposits). Only partial pairs
get a per-pixel coverage (a prefix sum of the deposits inside the tile plus the winding
carried in from the left). Pairs are then composited per tile, top layer first, and a
tile stops where the layers that cover it whole, leaving out the most opaque of them,
have let less than ``DEPTH_CUT`` of the light through: what lies under that changes no
pixel, nor its derivative with respect to any kept layer, by more than ``DEPTH_CUT``.
The dense work thus follows (tiles x visible layers), not (pixels x layers); a layered
scene with opaque canvas-sized layers pays for the top two of them only.
"""

from __future__ import annotations

import math

import torch

from pydiffvg.gather import take
from pydiffvg.kinks import turn_sides
from pydiffvg.paint import gradient_rgba, min_stop_alpha
from pydiffvg.raster import OPAQUE_EPS, apply_rule, box_fragments, group_boxes, ragged_arange
from pydiffvg.segments import segment_bounds, sum_before
from pydiffvg.shape import LinearGradient, RadialGradient

__all__ = ["DEPTH_CUT", "SMALL_TILE", "TILE", "fill_stack"]

# Tile side in pixels. A partial pair costs tile x tile pixels, so partial work follows
# (outline length x tile side); every pair also costs lookups, and a canvas-sized layer
# covers (area / tile^2) tiles whole. Scenes of small shapes (median box side under
# SMALL_SHAPE pixels: superpixel regions, a layered scene's top) take SMALL_TILE, scenes
# of large shapes TILE (both measured on diffvg_bench.py's scenes).
TILE = 16
SMALL_TILE = 8
SMALL_SHAPE = 48.0
# Layers under a transmittance bound below this are skipped (0 keeps every layer). An
# opaque layer lets OPAQUE_EPS through, so two opaque layers that cover a tile end it.
DEPTH_CUT = 1e-5

# Opacity is scaled by _KEEP in 1 - a (see raster.OPAQUE_EPS).
_KEEP = 1 - OPAQUE_EPS
# More than -log(OPAQUE_EPS): per-tile offsets that keep a running minimum in its tile.
_SHIFT = 64.0


def fill_stack(
    a: torch.Tensor,
    b: torch.Tensor,
    group: torch.Tensor,
    *,
    even_odd: torch.Tensor,
    colors: torch.Tensor,
    gradients: list[tuple[int, LinearGradient | RadialGradient]] | None = None,
    box: tuple[int, int, int, int],
    width: int,
    height: int,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Composite the fills of ``G`` groups (last on top) over the pixel box ``(x0, y0, x1,
    y1)`` (inclusive).

    ``a``/``b`` ``[N, 2]`` are the pieces of closed outlines, ``group`` ``[N]`` their group
    (0..G-1), ``even_odd`` ``[G]`` the fill rule and ``colors`` ``[G, 4]`` straight RGBA;
    ``gradients`` lists ``(group, paint)`` for groups filled with a gradient instead.
    Returns premultiplied colour ``[H*W, 3]``, alpha ``[H*W]`` and log-transmittance
    ``[H*W]`` over the whole canvas (zero outside the box), differentiable in the pieces,
    the colours and the gradients' tensors.
    """
    gradients = gradients or []
    dev, dt = a.device, a.dtype
    x0, y0, x1, y1 = box
    with torch.no_grad():
        layer_box = group_boxes(a, b, group, even_odd.shape[0], a.new_zeros(a.shape[0]))
    grid = _Grid(
        rows=y1 - y0 + 1, cols=x1 - x0 + 1, layers=even_odd.shape[0], tile=_tile_side(layer_box)
    )
    f = box_fragments(a, b, group, box=box, width=width, height=height)
    f = f.take(torch.nonzero(f.cx <= x1).squeeze(1))  # right of the box: no cell changes
    with torch.no_grad():
        cell = (f.cx - x0).clamp(min=-1)
        layer, row = f.g, f.cy - y0
    edges, winding = _edge_cells(
        (layer, row, cell, f.dy, f.xm, f.turn), even_odd=even_odd, grid=grid
    )
    with torch.no_grad():
        hp = _horizontal_tiles(a, b, group, box, grid)
        pairs = _pairs(edges, hp, layer_box, box=box, winding=winding, even_odd=even_odd, grid=grid)
        alpha_nograd = colors[:, 3].detach().clamp(0.0, 1.0)
        for g, paint in gradients:  # a bound: the cut must not skip a visible layer
            alpha_nograd[g] = min_stop_alpha(paint)
        pairs = _cut(pairs, alpha_nograd, grid)
    out, logt = _composite(
        pairs,
        edges,
        winding=winding,
        even_odd=even_odd,
        colors=colors,
        gradients=[(g, paint, (x0, y0)) for g, paint in gradients],
        grid=grid,
    )
    npix = width * height
    out = out.reshape(grid.rows * grid.cols, 4)
    logt = logt.reshape(grid.rows * grid.cols)
    # Rounding leaves ~1e-8 coverage residues where the winding is 0: pixels whose total
    # alpha is below 1e-6 (as the sparse path's entries) are left empty, except cells
    # beside an outline on a grid line, whose one-sided slope (pydiffvg.kinks) reaches
    # what lies below through the log-transmittance.
    keep = (out[:, 3].detach() >= 1e-6).to(dt)
    if edges.kink.any():  # beside an outline on a grid line the slope is one-sided
        at = edges.row[edges.kink] * grid.cols + edges.col[edges.kink]
        keep = keep.index_fill(0, at, 1.0)
    out = out * keep[:, None]
    logt = logt * keep
    if grid.rows * grid.cols == npix:
        return out[:, :3], out[:, 3], logt
    ys = torch.arange(y0, y1 + 1, device=dev)
    xs = torch.arange(x0, x1 + 1, device=dev)
    pixels = (ys[:, None] * width + xs[None, :]).reshape(-1)
    full = torch.zeros((npix, 5), dtype=dt, device=dev)
    full = full.index_copy(0, pixels, torch.cat([out, logt[:, None]], dim=1))
    return full[:, :3], full[:, 3], full[:, 4]


def _tile_side(layer_box: torch.Tensor) -> int:
    """SMALL_TILE when the layers' boxes ``[G, 4]`` have a median side under SMALL_SHAPE."""
    side = torch.maximum(layer_box[:, 2] - layer_box[:, 0], layer_box[:, 3] - layer_box[:, 1])
    side = side[torch.isfinite(side)]
    if side.numel() == 0:
        return TILE
    return SMALL_TILE if float(side.median()) < SMALL_SHAPE else TILE


class _Grid:
    """The box's rows and columns, cut into ``tile`` x ``tile`` tiles (the last row and
    column of tiles may reach past the box)."""

    def __init__(self, *, rows: int, cols: int, layers: int, tile: int) -> None:
        self.rows, self.cols, self.layers, self.tile = rows, cols, layers, tile
        self.ntx = -(-cols // tile)
        self.nty = -(-rows // tile)
        self.ntiles = self.ntx * self.nty

    def tile_of(self, row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
        return (row // self.tile) * self.ntx + col // self.tile

    def pair_key(self, tile: torch.Tensor, layer: torch.Tensor) -> torch.Tensor:
        """Sort key of a (tile, layer) pair: by tile, then top layer first."""
        return tile * self.layers + (self.layers - 1 - layer)


class _EdgeCells:
    """Edge cells inside the box: layer, row, column, exact coverage (differentiable) and
    whether the cell lies beside an outline on a grid line (``kink``)."""

    def __init__(
        self,
        layer: torch.Tensor,
        row: torch.Tensor,
        col: torch.Tensor,
        cov: torch.Tensor,
        kink: torch.Tensor,
    ) -> None:
        self.layer, self.row, self.col, self.cov, self.kink = layer, row, col, cov, kink


class _Winding:
    """Per (layer, row, cell) sums of the fragments' heights, sorted by that key (cell -1:
    left of the box), with their running sum: the winding left of any column is two
    binary searches away (no gradient)."""

    def __init__(self, key: torch.Tensor, full: torch.Tensor, own: torch.Tensor, grid: _Grid):
        self.rows, self.span = grid.rows, grid.cols + 2
        self.key = key
        self.full = full.to(torch.float64)
        # Left of the box a cell's whole height lies left of column 0.
        self.own = torch.where(key % self.span == 0, 0.0, own.to(torch.float64))
        self.csum = torch.cat([self.full.new_zeros(1), torch.cumsum(self.full, 0)])

    def deposits(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(layer, row, column, value) of the winding deltas (a cell's height splits into
        the part left of its mean position, at the cell, and the rest, right of it)."""
        seg = self.key // self.span
        layer, row = seg // self.rows, seg % self.rows
        cell = self.key % self.span - 1
        right = torch.where(cell < 0, 0.0, self.full - self.own)
        return (
            layer.repeat(2),
            row.repeat(2),
            torch.cat([cell.clamp(min=0), cell + 1]),
            torch.cat([torch.where(cell < 0, self.full, self.own), right]),
        )

    def left_of(self, layer: torch.Tensor, row: torch.Tensor, col: torch.Tensor) -> torch.Tensor:
        """Winding (float64) of ``layer`` in ``row`` from the deltas at columns < ``col``:
        whole heights of cells left of ``col - 1``, part of the cell at ``col - 1``."""
        if self.key.numel() == 0:
            return self.full.new_zeros(layer.shape)
        seg = (layer * self.rows + row) * self.span
        lo = torch.searchsorted(self.key, seg)
        hi = torch.searchsorted(self.key, seg + col)
        at = hi.clamp(max=self.key.shape[0] - 1)
        own = torch.where(take(self.key, at) == seg + col, take(self.own, at), 0.0)
        return take(self.csum, hi) - take(self.csum, lo) + own


def _edge_cells(
    frag: tuple[torch.Tensor, ...], *, even_odd: torch.Tensor, grid: _Grid
) -> tuple[_EdgeCells, _Winding]:
    """Coverage of a cell = full heights of its row's fragments left of it plus the part
    of its own fragments left of their mean position (a segmented prefix sum)."""
    layer, row, cell, dy, xm, turn = frag
    span = grid.cols + 2
    with torch.no_grad():
        key = (layer * grid.rows + row) * span + (cell + 1)
        ukey, inv = torch.unique(key, return_inverse=True)
        seg = ukey // span
        first, last = segment_bounds(seg)

    def per_cell(x: torch.Tensor) -> torch.Tensor:
        return x.new_zeros(ukey.shape[0]).index_add(0, inv, x)

    def row_sums(full: torch.Tensor, own: torch.Tensor) -> torch.Tensor:
        return sum_before(full, first, last) + own

    full = per_cell(dy)
    own = per_cell(dy * (1 - xm))
    with torch.no_grad():
        winding = _Winding(ukey, full.detach(), own.detach(), grid)
        ucell = ukey % span - 1
        is_edge = torch.nonzero(ucell >= 0).squeeze(1)
        ulayer = take(seg // grid.rows, is_edge)
        side = None
        if dy.requires_grad and bool(turn.any()):  # outlines on grid lines: one-sided slope
            t = turn.to(dy.dtype)
            sides = turn_sides(row_sums(per_cell(t.sum(1)), per_cell(t[:, 0])))
            side = None if sides is None else take(sides, is_edge)
    acc = row_sums(full, own)
    edges = _EdgeCells(
        ulayer,
        take(seg % grid.rows, is_edge),
        take(ucell, is_edge),
        apply_rule(take(acc, is_edge), take(even_odd, ulayer), side),
        torch.zeros_like(ulayer, dtype=torch.bool) if side is None else side != 0,
    )
    return edges, winding


def _horizontal_tiles(
    a: torch.Tensor,
    b: torch.Tensor,
    group: torch.Tensor,
    box: tuple[int, int, int, int],
    grid: _Grid,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(tile, layer) of tiles that horizontal pieces run through: such pieces leave no
    fragment, yet the cells along them are partly covered."""
    x0, y0, x1, y1 = box
    ad, bd = a.detach(), b.detach()
    yv = ad[:, 1]
    sel = torch.nonzero(
        (ad[:, 1] == bd[:, 1])
        & (yv > y0)
        & (yv < y1 + 1)
        & (torch.minimum(ad[:, 0], bd[:, 0]) < x1 + 1)
        & (torch.maximum(ad[:, 0], bd[:, 0]) > x0)
    ).squeeze(1)
    if sel.numel() == 0:
        empty = torch.zeros(0, dtype=torch.long, device=a.device)
        return empty, empty
    yv = yv[sel]
    lo_x = torch.minimum(ad[sel, 0], bd[sel, 0])
    hi_x = torch.maximum(ad[sel, 0], bd[sel, 0])
    # The row holding the piece, and the row above when it lies on a grid line.
    rows = torch.cat([torch.floor(yv), torch.ceil(yv) - 1]).long() - y0
    tx0 = ((torch.floor(lo_x).long() - x0).clamp(0, grid.cols - 1) // grid.tile).repeat(2)
    tx1 = ((torch.floor(hi_x).long() - x0).clamp(0, grid.cols - 1) // grid.tile).repeat(2)
    lay = group[sel].repeat(2)
    rows = rows.clamp(0, grid.rows - 1)
    owner, local = ragged_arange(tx1 - tx0 + 1)
    tile = (rows[owner] // grid.tile) * grid.ntx + tx0[owner] + local
    return tile, lay[owner]


class _Pairs:
    """(tile, layer) pairs sorted by tile, top layer first; ``full`` marks layers that
    cover the whole tile (coverage 1 everywhere), the others are partial."""

    def __init__(self, key: torch.Tensor, full: torch.Tensor, grid: _Grid) -> None:
        self.key, self.full = key, full
        self.tile = key // grid.layers
        self.layer = grid.layers - 1 - key % grid.layers

    def subset(self, idx: torch.Tensor, grid: _Grid) -> _Pairs:
        return _Pairs(take(self.key, idx), take(self.full, idx), grid)


def _lookup(sorted_keys: torch.Tensor, keys: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Positions of ``keys`` in ``sorted_keys`` and whether each is there."""
    if sorted_keys.numel() == 0:
        return torch.zeros_like(keys), torch.zeros_like(keys, dtype=torch.bool)
    pos = torch.searchsorted(sorted_keys, keys).clamp(max=sorted_keys.shape[0] - 1)
    return pos, take(sorted_keys, pos) == keys


def _pairs(
    edges: _EdgeCells,
    horizontal: tuple[torch.Tensor, torch.Tensor],
    layer_box: torch.Tensor,
    *,
    box: tuple[int, int, int, int],
    winding: _Winding,
    even_odd: torch.Tensor,
    grid: _Grid,
) -> _Pairs:
    """Partial pairs (an outline passes through the tile) and full ones (the winding of
    the tile's corner, the same all over the tile, is inside); ``layer_box`` ``[G, 4]``
    bounds each layer's pieces."""
    x0, y0, _, _ = box
    t = grid.tile
    partial = torch.unique(
        torch.cat(
            [
                grid.pair_key(grid.tile_of(edges.row, edges.col), edges.layer),
                grid.pair_key(*horizontal),
            ]
        )
    )
    # Candidates: every tile of each layer's bounding box.
    mins, maxs = layer_box[:, :2], layer_box[:, 2:]
    fin = torch.isfinite(mins).all(1)
    mins = torch.where(torch.isfinite(mins), mins, 0)
    maxs = torch.where(torch.isfinite(maxs), maxs, 0)
    cx0 = (torch.floor(mins[:, 0]).long() - x0).clamp(0, grid.cols - 1) // t
    cy0 = (torch.floor(mins[:, 1]).long() - y0).clamp(0, grid.rows - 1) // t
    cx1 = (torch.floor(maxs[:, 0]).long() - x0).clamp(0, grid.cols - 1) // t
    cy1 = (torch.floor(maxs[:, 1]).long() - y0).clamp(0, grid.rows - 1) // t
    nx = torch.where(fin, cx1 - cx0 + 1, 0)
    ny = torch.where(fin, cy1 - cy0 + 1, 0)
    layer, local = ragged_arange(nx * ny)
    nx_l = take(nx, layer)
    ty = take(cy0, layer) + local // nx_l
    tx = take(cx0, layer) + local % nx_l
    key = grid.pair_key(ty * grid.ntx + tx, layer)
    _, is_partial = _lookup(partial, key)
    rest = torch.nonzero(~is_partial).squeeze(1)
    layer, ty, tx, key = take(layer, rest), take(ty, rest), take(tx, rest), take(key, rest)
    w = torch.round(winding.left_of(layer, ty * t, tx * t + 1)).long()
    covered = torch.where(take(even_odd, layer), w % 2 != 0, w != 0)
    full_key = key[covered]
    keys = torch.cat([partial, full_key])
    full = torch.cat(
        [torch.zeros_like(partial, dtype=torch.bool), torch.ones_like(full_key, dtype=torch.bool)]
    )
    keys, perm = torch.sort(keys)
    return _Pairs(keys, take(full, perm), grid)


def _cut(pairs: _Pairs, alpha: torch.Tensor, grid: _Grid) -> _Pairs:
    """Drop pairs under the tile's layers whose full cover lets less than DEPTH_CUT of
    the light through, leaving out the most opaque of those layers (a bound for every
    pixel of the tile: partial layers only add). What is dropped changes no pixel by more
    than DEPTH_CUT, nor the derivative with respect to any kept layer's opacity, which
    is minus the light that reaches the layer times what lies under it: with that layer
    left out of the product, the bound holds for each of them."""
    if DEPTH_CUT <= 0 or pairs.key.numel() == 0:
        return pairs
    f = torch.where(
        pairs.full, torch.log1p(-take(alpha, pairs.layer).to(torch.float64) * _KEEP), 0.0
    )
    start, last = segment_bounds(pairs.tile)
    excl = sum_before(f, start, last)
    # The most opaque full layer above each pair: a running minimum of f per tile, run
    # over the whole list with each tile's values shifted below every earlier tile's
    # (f >= log(OPAQUE_EPS) > -_SHIFT).
    index = torch.arange(f.shape[0], device=f.device)
    shift = torch.cumsum((start == index).to(torch.float64), 0) * _SHIFT
    lowest = torch.cummin(f - shift, 0).values + shift
    above = torch.where(start == index, 0.0, lowest[(index - 1).clamp(min=0)])
    return pairs.subset(torch.nonzero(excl - above > math.log(DEPTH_CUT)).squeeze(1), grid)


def _composite(
    pairs: _Pairs,
    edges: _EdgeCells,
    *,
    winding: _Winding,
    even_odd: torch.Tensor,
    colors: torch.Tensor,
    gradients: list[tuple[int, LinearGradient | RadialGradient, tuple[int, int]]],
    grid: _Grid,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Painter's-order compositing of the pairs per tile; returns premultiplied colour and
    alpha ``[rows, cols, 4]`` and log-transmittance ``[rows, cols]`` over the box.
    ``gradients``: (layer, paint, box origin) of gradient-filled layers."""
    dt = colors.dtype
    t, tt = grid.tile, grid.tile * grid.tile
    with torch.no_grad():
        part = torch.nonzero(~pairs.full).squeeze(1)
        pkey, ptile, player = (take(x, part) for x in (pairs.key, pairs.tile, pairs.layer))
        # Winding inside partial tiles: deposits in the tile, prefix-summed along rows,
        # plus what the row carries in from the left of the tile.
        buf = winding.full.new_zeros((part.shape[0], t, t + 1))
        d_layer, d_row, d_col, d_val = winding.deposits()
        d_in = torch.nonzero(d_col < grid.cols).squeeze(1)
        d_layer, d_row, d_col, d_val = (take(x, d_in) for x in (d_layer, d_row, d_col, d_val))
        pos, hit = _lookup(pkey, grid.pair_key(grid.tile_of(d_row, d_col), d_layer))
        hit = torch.nonzero(hit).squeeze(1)
        flat = (take(pos, hit) * t + take(d_row, hit) % t) * (t + 1) + take(d_col, hit) % t
        buf.view(-1).index_add_(0, flat, take(d_val, hit))
        rows = (ptile // grid.ntx * t)[:, None] + torch.arange(t, device=buf.device)
        carry = winding.left_of(
            player[:, None], rows.clamp(max=grid.rows - 1), (ptile % grid.ntx * t)[:, None]
        )
        acc = buf[:, :, :t].cumsum(2) + carry[:, :, None]
        cov = apply_rule(acc, take(even_odd, player)[:, None, None]).to(dt).view(-1)
        pos, hit = _lookup(pkey, grid.pair_key(grid.tile_of(edges.row, edges.col), edges.layer))
        hit = torch.nonzero(hit).squeeze(1)
        eflat = (take(pos, hit) * t + take(edges.row, hit) % t) * t + take(edges.col, hit) % t
    # Edge cells carry the gradient with respect to the points.
    cov = cov.index_put((eflat,), take(edges.cov, hit)).view(-1, tt)
    n = pairs.key.shape[0]
    c = colors.new_ones((n, tt)).index_copy(0, part, cov)
    alpha = colors[:, 3].clamp(0.0, 1.0)
    pair_alpha = take(alpha, pairs.layer)[:, None]
    # Colour channels per pair: [n, 1] for solid paints, [n, tt] with gradient paints.
    pair_rgb = take(colors[:, :3], pairs.layer)
    channels = [pair_rgb[:, k : k + 1] for k in range(3)]
    if gradients:
        pair_alpha, pair_paint = _gradient_paints(
            pairs, gradients, pair_alpha.expand(n, tt), pair_rgb[:, None, :].expand(n, tt, 3), grid
        )
        channels = [pair_paint[..., k] for k in range(3)]
    ax = pair_alpha * c
    log1m = torch.log1p(-ax * _KEEP)
    # Transmittance of the layers above, within each tile (pairs: top layer first).
    weight = ax * torch.exp(sum_before(log1m, *segment_bounds(pairs.tile)))
    # One channel at a time: no [pairs, tile pixels, 4] product (nor its gradient) is
    # materialised.
    out = torch.stack(
        [
            colors.new_zeros((grid.ntiles, tt)).index_add(0, pairs.tile, weight * ch)
            for ch in channels
        ]
        + [colors.new_zeros((grid.ntiles, tt)).index_add(0, pairs.tile, weight)],
        dim=2,
    )
    logt = colors.new_zeros((grid.ntiles, tt)).index_add(0, pairs.tile, log1m)
    out = out.view(grid.nty, grid.ntx, t, t, 4).permute(0, 2, 1, 3, 4)
    logt = logt.view(grid.nty, grid.ntx, t, t).permute(0, 2, 1, 3)
    out = out.reshape(grid.nty * t, grid.ntx * t, 4)[: grid.rows, : grid.cols]
    logt = logt.reshape(grid.nty * t, grid.ntx * t)[: grid.rows, : grid.cols]
    return out, logt


def _gradient_paints(
    pairs: _Pairs,
    gradients: list[tuple[int, LinearGradient | RadialGradient, tuple[int, int]]],
    pair_alpha: torch.Tensor,
    pair_paint: torch.Tensor,
    grid: _Grid,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-pixel opacity ``[n, tt]`` and colour ``[n, tt, 3]`` of the pairs, with
    gradient-filled layers evaluated at their tiles' pixel centres."""
    t = grid.tile
    dev, dt = pair_alpha.device, pair_alpha.dtype
    local = torch.arange(t * t, device=dev)
    for layer, paint, (x0, y0) in gradients:
        with torch.no_grad():
            sel = torch.nonzero(pairs.layer == layer).squeeze(1)
            if sel.numel() == 0:
                continue
            tile = pairs.tile[sel]
            row = (tile // grid.ntx * t)[:, None] + local // t
            col = (tile % grid.ntx * t)[:, None] + local % t
            centres = torch.stack([col + x0, row + y0], dim=-1).reshape(-1, 2).to(dt) + 0.5
        rgba = gradient_rgba(paint, centres).reshape(-1, t * t, 4)
        pair_alpha = pair_alpha.index_copy(0, sel, rgba[..., 3].clamp(0.0, 1.0))
        pair_paint = pair_paint.index_copy(0, sel, rgba[..., :3])
    return pair_alpha, pair_paint
