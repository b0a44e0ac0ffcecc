"""Pruning: drop shapes that contribute nothing and honour the outline budget exactly."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .shapes import VPath

__all__ = ["count_outlines", "prune_paths"]


def count_outlines(paths: Sequence[VPath]) -> int:
    """Closed outlines (subpaths, holes included): what ``max_paths`` caps."""
    return sum(len(p.subpaths) for p in paths)


def prune_paths(paths: list[VPath], max_paths: int, size: tuple[int, int]) -> list[VPath]:
    """Remove invisible / degenerate outlines, then the smallest shapes while the scene has
    more than ``max_paths`` outlines.

    The background path (if any) is always kept first. Painter's order is preserved.
    """
    w, h = size
    kept: list[VPath] = []
    for p in paths:
        subs = [s for s in p.subpaths if len(s) >= 3 and np.all(np.isfinite(s))]
        if not subs or float(p.color[3]) < 1.0 / 255.0:
            continue
        pts = np.concatenate(subs)
        # Entirely outside the canvas: invisible.
        if pts[:, 0].max() < 0 or pts[:, 1].max() < 0 or pts[:, 0].min() > w or pts[:, 1].min() > h:
            continue
        p.subpaths = subs
        kept.append(p)
    total = count_outlines(kept)
    if total <= max_paths:
        return kept
    # Over budget (holes onto transparency, or a learned coarse stage proposing more):
    # drop the smallest outlines first, a hole (its area gets filled) or a whole shape.
    candidates: list[tuple[float, int, int]] = []  # (area, path, subpath or -1 = shape)
    for i, p in enumerate(kept):
        for j, sub in enumerate(p.subpaths[1:], start=1):
            candidates.append((abs(_area(sub)), i, j))
        if not p.is_background:
            candidates.append((abs(_area(p.subpaths[0])), i, -1))
    dropped_paths: set[int] = set()
    dropped_subs: set[tuple[int, int]] = set()
    for _, i, j in sorted(candidates):
        if total <= max_paths:
            break
        if i in dropped_paths or (i, j) in dropped_subs:
            continue
        if j < 0:
            dropped_paths.add(i)
            total -= sum(1 for jj in range(len(kept[i].subpaths)) if (i, jj) not in dropped_subs)
        else:
            dropped_subs.add((i, j))
            total -= 1
    out = []
    for i, p in enumerate(kept):
        if i in dropped_paths:
            continue
        p.subpaths = [s for j, s in enumerate(p.subpaths) if (i, j) not in dropped_subs]
        out.append(p)
    return out


def _area(sub: np.ndarray) -> float:
    x, y = sub[:, 0], sub[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
