"""Gradients of outlines lying exactly on pixel-grid lines.

Box-filtered area coverage is piecewise smooth in the outline's points, with a kink where
an edge lies on a grid line: moving a vertical edge on ``x = k`` right changes cell ``k``,
moving it left changes cell ``k - 1``; moving an end point on ``y = k`` down changes row
``k``, up row ``k - 1``. Autograd alone puts the whole derivative into one of the two cells
(the one the fragment was assigned to), often the one outside the shape where the area is
0 and ``|area|`` has slope 0, so the gradient vanishes (a rectangle on integer
coordinates got none). DiffVG's boundary sampling has no such bias.

Here the derivative at a kink is the mean of the two one-sided derivatives (what central
finite differences measure), built from zero-valued fragments so the image is unchanged:

- a fragment on a vertical grid line is split into two halves, one in each cell;
- an end point of a piece on a horizontal grid line gives its fragment a twin in the row
  on the other side of the line that carries half of the end point's y derivative.

Cells next to such a fragment may hold an area exactly at a kink of the fill rule (0
outside, 1 inside); each fragment deposits ``turn``, the direction its cell's area moves
when the fragment moves into the cell, and a row prefix sum of it gives every cell the
side on which :func:`one_sided_rule` takes the rule's slope.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pydiffvg.gather import take

__all__ = ["Fragments", "on_grid_lines", "one_sided_rule", "turn_sides"]


@dataclass
class Fragments:
    """Outline pieces cut at grid lines: group ``g``, cell column ``cx`` and row ``cy``,
    signed height ``dy`` and mean horizontal position ``xm`` inside the cell (these two
    carry the gradient), and ``turn`` ``[F, 2]`` (no gradient): deposits at columns
    ``cx`` and ``cx + 1`` whose row prefix sum is the direction of each cell's area change
    at a kink (zero away from grid lines)."""

    g: torch.Tensor
    cx: torch.Tensor
    cy: torch.Tensor
    dy: torch.Tensor
    xm: torch.Tensor
    turn: torch.Tensor

    def take(self, idx: torch.Tensor) -> Fragments:
        return Fragments(*(take(x, idx) for x in self.fields()))

    def cat(self, other: Fragments) -> Fragments:
        return Fragments(
            *(torch.cat([x, y]) for x, y in zip(self.fields(), other.fields(), strict=True))
        )

    def fields(self) -> tuple[torch.Tensor, ...]:
        return (self.g, self.cx, self.cy, self.dy, self.xm, self.turn)


def on_grid_lines(
    f: Fragments,
    q0: torch.Tensor,
    q1: torch.Tensor,
    ends: tuple[torch.Tensor, torch.Tensor],
    height: int,
) -> Fragments:
    """Twins and halves (module docstring) for fragments running from ``q0`` to ``q1``
    ``[F, 2]``; ``ends`` says whether their start / end is an end point of the piece (grid
    crossings have no y derivative of their own). The work follows the few fragments
    that touch a grid line, not all of them."""
    first, last = ends
    with torch.no_grad():
        r = f.cy.to(q0.dtype)
        a0, a1 = q0[:, 1].detach(), q1[:, 1].detach()
        level = a0 == a1  # every point of a level fragment carries its piece's y
        on0, on1 = (a0 == r) & (first | level), (a1 == r) & (last | level)
        under0, under1 = (a0 == r + 1) & first, (a1 == r + 1) & last
        idx = torch.nonzero(on0 | on1 | under0 | under1).squeeze(1)
    if idx.numel() == 0:  # the common case: no end point on a horizontal grid line
        return _split_vertical(f)
    y0, y1 = take(q0[:, 1], idx), take(q1[:, 1], idx)
    with torch.no_grad():
        dt = y0.dtype
        up0, up1 = take(on0, idx).to(dt), take(on1, idx).to(dt)
        dn0, dn1 = take(under0, idx).to(dt), take(under1, idx).to(dt)
        level = take(level, idx)
        x0, x1 = take(q0[:, 0].detach(), idx), take(q1[:, 0].detach(), idx)
        g, cy = take(f.g, idx), take(f.cy, idx)
    e0 = y0 - y0.detach()  # zero-valued: the end points' y derivative only
    e1 = y1 - y1.detach()
    up = 0.5 * (up1 * e1 - up0 * e0)
    dn = 0.5 * (dn1 * e1 - dn0 * e0)
    # Moved out of the row, the end point leaves the fragment clipped at the line, where
    # the piece now crosses it at x - (dx/dy) * dy_moved: half of that moves the mean x.
    with torch.no_grad():
        slope = (x1 - x0) / torch.where(level, 1.0, y1.detach() - y0.detach())
        slope = torch.where(level, 0.0, slope)
    pivot = -0.25 * slope * ((up0 + dn0) * e0 + (up1 + dn1) * e1)
    with torch.no_grad():
        # Moved into the fragment's row, the end point changes the fragment's height.
        way_in = torch.where(level, 0.0, torch.sign(up1 - up0 + dn0 - dn1))
        turn = f.turn.index_add(0, idx, _deposit(way_in, take(f.xm, idx)))
    f = Fragments(
        f.g, f.cx, f.cy, f.dy.index_add(0, idx, -(up + dn)), f.xm.index_add(0, idx, pivot), turn
    )
    with torch.no_grad():
        has_up = torch.nonzero(((up0 + up1) > 0) & (cy > 0)).squeeze(1)
        has_dn = torch.nonzero(((dn0 + dn1) > 0) & (cy + 1 < height)).squeeze(1)
        # The twin's height when the end point moves into its row.
        way_up = torch.sign(up0 - up1)[has_up]
        way_dn = torch.sign(dn1 - dn0)[has_dn]
        # A twin sits where the piece would enter the row: at its end point, or along
        # the whole of a level fragment.
        x_up = torch.where(level, 0.5 * (x0 + x1), torch.where(up0 > 0, x0, x1))[has_up]
        x_dn = torch.where(dn0 > 0, x0, x1)[has_dn]
        tx = torch.cat([x_up, x_dn])
        tcx = torch.floor(tx)
        txm = (tx - tcx).to(f.xm.dtype)
    twins = Fragments(
        torch.cat([g[has_up], g[has_dn]]),
        tcx.long(),
        torch.cat([cy[has_up] - 1, cy[has_dn] + 1]),
        torch.cat([take(up, has_up), take(dn, has_dn)]),
        txm,
        _deposit(torch.cat([way_up, way_dn]), txm),
    )
    return _split_vertical(f, twins)


def _deposit(way: torch.Tensor, xm: torch.Tensor) -> torch.Tensor:
    xm = xm.detach()
    return torch.stack([way * (1 - xm), way * xm], dim=1)


def _split_vertical(f: Fragments, extra: Fragments | None = None) -> Fragments:
    """Halves of fragments on a vertical grid line (``xm == 0`` in cell ``k``; nothing
    else has ``xm`` exactly 0): one stays with ``xm = 0``, the other goes to cell
    ``k - 1`` with ``xm = 1``; the sum of their deposits is unchanged. ``extra``
    fragments (twins) are appended first; one concatenation for all."""
    if extra is not None:
        f = f.cat(extra)
    with torch.no_grad():
        idx = torch.nonzero(f.xm.detach() == 0).squeeze(1)
    if idx.numel() == 0:
        return f
    half = 0.5 * take(f.dy, idx)
    dy = f.dy.index_copy(0, idx, half)
    with torch.no_grad():
        s = torch.sign(half.detach())
        old = take(f.turn, idx)
        # Right of the line the area moves by -dy (moving right), left of it by +dy.
        turn = f.turn.index_copy(0, idx, 0.5 * old + torch.stack([-s, s], dim=1))
        left = torch.stack([s, -s], dim=1) + 0.5 * old
    return Fragments(
        torch.cat([f.g, take(f.g, idx)]),
        torch.cat([f.cx, take(f.cx, idx) - 1]),
        torch.cat([f.cy, take(f.cy, idx)]),
        torch.cat([dy, half]),
        torch.cat([f.xm, take(f.xm, idx) + 1]),
        torch.cat([turn, left]),
    )


@torch.no_grad()
def turn_sides(turn_acc: torch.Tensor) -> torch.Tensor | None:
    """Row prefix sums of ``turn`` -> side per cell (-1, 0, 1); None when all zero."""
    side = torch.sign(turn_acc)
    return side if bool((side != 0).any()) else None


def one_sided_rule(
    acc: torch.Tensor, cov: torch.Tensor, even_odd: torch.Tensor, side: torch.Tensor
) -> torch.Tensor:
    """``cov`` (the fill rule of ``acc``) with, where ``side != 0``, the rule's slope
    taken just past ``acc`` in the direction ``side``."""
    with torch.no_grad():
        at = acc + side.to(acc.dtype) * 1e-3  # past the kink, before any other one
        m = at.abs()
        fold = torch.where(torch.remainder(m, 2.0) < 1, 1.0, -1.0).to(acc.dtype)
        slope = torch.sign(at) * torch.where(even_odd, fold, (m < 1).to(acc.dtype))
    one_sided = cov.detach() + slope * (acc - acc.detach())
    return torch.where(side != 0, one_sided, cov)
