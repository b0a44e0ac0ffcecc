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
    # Over budget (a learned coarse stage may propose more): drop the smallest shapes.
    areas = np.array([abs(_area(p.subpaths[0])) for p in kept])
    score = np.where([p.is_background for p in kept], np.inf, areas)
    drop: set[int] = set()
    for i in np.argsort(score, kind="stable").tolist():
        if total <= max_paths or np.isinf(score[i]):
            break
        drop.add(i)
        total -= len(kept[i].subpaths)
    out = [p for i, p in enumerate(kept) if i not in drop]
    if count_outlines(out) > max_paths:  # only the background is left and it has holes
        out[0].subpaths = out[0].subpaths[:max_paths]
    return out


def _area(sub: np.ndarray) -> float:
    x, y = sub[:, 0], sub[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
