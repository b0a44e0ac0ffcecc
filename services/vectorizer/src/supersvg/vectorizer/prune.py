"""Pruning: drop paths that contribute nothing and honour the path budget exactly."""

from __future__ import annotations

import numpy as np

from .shapes import VPath

__all__ = ["prune_paths"]


def prune_paths(paths: list[VPath], max_paths: int, size: tuple[int, int]) -> list[VPath]:
    """Remove invisible / degenerate paths, then the smallest ones beyond ``max_paths``.

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
    if len(kept) <= max_paths:
        return kept
    # Over budget (a learned coarse stage may propose more): keep the largest paths.
    areas = np.array([sum(abs(_area(s)) for s in p.subpaths) for p in kept])
    bg = np.array([p.is_background for p in kept])
    score = np.where(bg, np.inf, areas)
    keep = set(np.argsort(-score, kind="stable")[:max_paths].tolist())
    return [p for i, p in enumerate(kept) if i in keep]


def _area(sub: np.ndarray) -> float:
    x, y = sub[:, 0], sub[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))
