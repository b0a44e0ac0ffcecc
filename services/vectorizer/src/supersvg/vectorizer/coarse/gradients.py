"""Linear gradient fills where a region's colour changes smoothly across it.

A region's colour is fitted by least squares as an affine function of position. An SVG
linear gradient varies along one direction only, so the fit is reduced to the best
rank-one form (the spatial direction along which all channels change most, from a
singular value decomposition); its two stops sit at the region's extent along that
direction. The gradient replaces the flat colour only where it removes a clear share of
the region's squared error, enough to pay for its bytes.
"""

from __future__ import annotations

import numpy as np

from ..shapes import LinearFill, VPath

__all__ = ["fit_gradients"]

#: A gradient must remove at least this share of the region's squared colour error...
MIN_GAIN_SHARE = 0.15
#: ...and at least this much in absolute terms (squared RGB error summed over pixels):
#: about the cost of its bytes (a gradient definition is ~120 bytes).
MIN_GAIN = 2.0
#: Smallest region (working pixels) worth a gradient.
MIN_PIXELS = 24


def fit_gradients(
    paths: list[VPath], labels: np.ndarray, image: np.ndarray, scale: tuple[float, float]
) -> int:
    """Give paths (``meta["region"]`` names their region in ``labels``) a linear gradient
    fill where it wins; ``image`` is the working image, straight RGBA in [0, 1].
    Returns the number of gradients set. Only opaque regions get one."""
    w = labels.shape[1]
    flat_labels = labels.ravel()
    order = np.argsort(flat_labels, kind="stable")
    counts = np.bincount(flat_labels, minlength=int(labels.max()) + 1)
    starts = np.concatenate([[0], np.cumsum(counts)])
    ys, xs = np.divmod(order, w)
    rgba = image.reshape(-1, 4)[order]
    sx, sy = scale
    made = 0
    for p in paths:
        reg = int(p.meta.get("region", -1))
        if reg <= 0 or counts[reg] < MIN_PIXELS:
            continue
        sel = slice(starts[reg], starts[reg + 1])
        col = rgba[sel]
        if col[:, 3].min() < 0.99:
            continue
        pos = np.stack([xs[sel] + 0.5, ys[sel] + 0.5], axis=1).astype(np.float64)
        fill = _fit(pos, col[:, :3])
        if fill is None:
            continue
        begin, end, stops = fill
        p.gradient = LinearFill(
            begin=begin * np.array([sx, sy]),
            end=end * np.array([sx, sy]),
            stops=np.concatenate([stops, np.ones((2, 1))], axis=1),
        )
        made += 1
    return made


def _fit(pos: np.ndarray, rgb: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    mean_p = pos.mean(0)
    mean_c = rgb.mean(0)
    dp = pos - mean_p
    dc = rgb - mean_c
    flat_err = float((dc * dc).sum())
    if flat_err < MIN_GAIN:
        return None
    cov = dp.T @ dp
    if np.linalg.cond(cov) > 1e6:
        return None
    slope = np.linalg.solve(cov, dp.T @ dc)  # (2, 3): colour change per pixel
    # Best single direction: slope ~ v u^T with v spatial (unit), u colour.
    v_mat, sing, u_t = np.linalg.svd(slope, full_matrices=False)
    v = v_mat[:, 0]
    u = sing[0] * u_t[0]
    t = dp @ v
    pred = mean_c + t[:, None] * u[None, :]
    grad_err = float(((rgb - np.clip(pred, 0, 1)) ** 2).sum())
    gain = flat_err - grad_err
    if gain < MIN_GAIN or gain < MIN_GAIN_SHARE * flat_err:
        return None
    t0, t1 = float(t.min()), float(t.max())
    if t1 - t0 < 1.0:
        return None
    begin = mean_p + t0 * v
    end = mean_p + t1 * v
    stops = np.clip(np.stack([mean_c + t0 * u, mean_c + t1 * u]), 0.0, 1.0)
    return begin, end, stops
