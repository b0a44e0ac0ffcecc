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
    crossings have no y derivative of their own)."""
    first, last = ends
    y0, y1 = q0[:, 1], q1[:, 1]
    with torch.no_grad():
        r = f.cy.to(y0.dtype)
        a0, a1 = y0.detach(), y1.detach()
        level = a0 == a1  # every point of a level fragment carries its piece's y
        up0 = ((a0 == r) & (first | level)).to(y0.dtype)
        up1 = ((a1 == r) & (last | level)).to(y0.dtype)
        dn0 = ((a0 == r + 1) & first).to(y0.dtype)
        dn1 = ((a1 == r + 1) & last).to(y0.dtype)
        touches = bool((up0 + up1 + dn0 + dn1).any())
    if not touches:  # the common case: no end point on a horizontal grid line
        return _split_vertical(f)
    e0 = y0 - y0.detach()  # zero-valued: the end points' y derivative only
    e1 = y1 - y1.detach()
    up = 0.5 * (up1 * e1 - up0 * e0)
    dn = 0.5 * (dn1 * e1 - dn0 * e0)
    # Moved out of the row, the end point leaves the fragment clipped at the line, where
    # the piece now crosses it at x - (dx/dy) * dy_moved: half of that moves the mean x.
    with torch.no_grad():
        slope = (q1[:, 0] - q0[:, 0]).detach() / torch.where(level, 1.0, a1 - a0)
        slope = torch.where(level, 0.0, slope)
    pivot = -0.25 * slope * ((up0 + dn0) * e0 + (up1 + dn1) * e1)
    with torch.no_grad():
        # Moved into the fragment's row, the end point changes the fragment's height.
        way_in = torch.where(level, 0.0, torch.sign(up1 - up0 + dn0 - dn1))
        turn = f.turn + _deposit(way_in, f.xm)
    f = Fragments(f.g, f.cx, f.cy, f.dy - up - dn, f.xm + pivot, turn)
    with torch.no_grad():
        has_up = torch.nonzero(((up0 + up1) > 0) & (f.cy > 0)).squeeze(1)
        has_dn = torch.nonzero(((dn0 + dn1) > 0) & (f.cy + 1 < height)).squeeze(1)
        # The twin's height when the end point moves into its row.
        way_up = torch.sign(up0 - up1)[has_up]
        way_dn = torch.sign(dn1 - dn0)[has_dn]
        # A twin sits where the piece would enter the row: at its end point, or along
        # the whole of a level fragment.
        x0, x1 = q0[:, 0].detach(), q1[:, 0].detach()
        x_up = torch.where(level, 0.5 * (x0 + x1), torch.where(up0 > 0, x0, x1))[has_up]
        x_dn = torch.where(dn0 > 0, x0, x1)[has_dn]
        tx = torch.cat([x_up, x_dn])
        tcx = torch.floor(tx)
        txm = (tx - tcx).to(f.xm.dtype)
    twins = Fragments(
        torch.cat([f.g[has_up], f.g[has_dn]]),
        tcx.long(),
        torch.cat([f.cy[has_up] - 1, f.cy[has_dn] + 1]),
        torch.cat([take(up, has_up), take(dn, has_dn)]),
        txm,
        _deposit(torch.cat([way_up, way_dn]), txm),
    )
    return _split_vertical(f.cat(twins))


def _deposit(way: torch.Tensor, xm: torch.Tensor) -> torch.Tensor:
    xm = xm.detach()
    return torch.stack([way * (1 - xm), way * xm], dim=1)


def _split_vertical(f: Fragments) -> Fragments:
    """Halves of fragments on a vertical grid line (``xm == 0`` in cell ``k``; nothing
    else has ``xm`` exactly 0): one stays with ``xm = 0``, the other goes to cell
    ``k - 1`` with ``xm = 1``; the sum of their deposits is unchanged."""
    with torch.no_grad():
        on = f.xm.detach() == 0
        idx = torch.nonzero(on).squeeze(1)
    if idx.numel() == 0:
        return f
    dy = f.dy * torch.where(on, 0.5, 1.0).to(f.dy.dtype)
    with torch.no_grad():
        s = torch.sign(f.dy.detach()[idx])
        turn = f.turn.clone()
        # Right of the line the area moves by -dy (moving right), left of it by +dy.
        turn[idx] = 0.5 * turn[idx] + torch.stack([-s, s], dim=1)
        left = torch.stack([s, -s], dim=1) + 0.5 * f.turn[idx]
    return Fragments(
        torch.cat([f.g, f.g[idx]]),
        torch.cat([f.cx, f.cx[idx] - 1]),
        torch.cat([f.cy, f.cy[idx]]),
        torch.cat([dy, take(dy, idx)]),
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
