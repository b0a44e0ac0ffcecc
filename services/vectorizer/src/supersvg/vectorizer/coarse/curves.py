"""Closed outlines -> few cubic Bézier segments: corners kept, smooth runs fitted.

A ring of dense contour points (about one per pixel, at sub-pixel positions) is cut at its
corners (where the direction turns by more than ``corner_angle`` over a couple of pixels);
each run between corners is fitted by least squares with one cubic whose end tangents are
fixed (Schneider's method: chord-length parameters, two unknown handle lengths, Newton
re-parameterisation), split at the worst point while the error exceeds the tolerance. A run
whose points all lie within the tolerance of its chord becomes a straight line. A ring
without corners is cut at two opposite points with smooth (shared) tangents, so a circle
comes back as four curves.
"""

from __future__ import annotations

import numpy as np

__all__ = ["fit_ring"]

#: Points on each side used to find corners (about two pixels of contour).
_ARM = 2
#: Points on each side used to estimate a smooth tangent (noise averages out).
_TANGENT_ARM = 6
#: Curve parameters at which a fit is checked for straying from its points.
_PROBES = np.linspace(0.0, 1.0, 17)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    return np.asarray(v / np.maximum(n, 1e-12))


def _corners(pts: np.ndarray, corner_angle: float) -> np.ndarray:
    """Indices of corner points (local maxima of the turning angle above the threshold)."""
    n = len(pts)
    k = min(_ARM, max(1, (n - 1) // 3))
    a = _unit(pts - np.roll(pts, k, axis=0))
    b = _unit(np.roll(pts, -k, axis=0) - pts)
    turn = np.degrees(np.arccos(np.clip((a * b).sum(1), -1.0, 1.0)))
    peak = np.ones(n, dtype=bool)
    for s in range(1, k + 1):
        peak &= (turn >= np.roll(turn, s)) & (turn > np.roll(turn, -s))
    return np.flatnonzero(peak & (turn > corner_angle))


def _bezier(ctrl: np.ndarray, u: np.ndarray) -> np.ndarray:
    v = 1.0 - u
    return np.asarray(
        (v**3)[:, None] * ctrl[0]
        + (3 * v * v * u)[:, None] * ctrl[1]
        + (3 * v * u * u)[:, None] * ctrl[2]
        + (u**3)[:, None] * ctrl[3]
    )


def _reparam(ctrl: np.ndarray, pts: np.ndarray, u: np.ndarray) -> np.ndarray:
    """One Newton step per point towards the curve parameter closest to it."""
    d1 = 3.0 * (ctrl[1:] - ctrl[:-1])
    d2 = 2.0 * (d1[1:] - d1[:-1])
    v = 1.0 - u
    q = _bezier(ctrl, u) - pts
    q1 = (v * v)[:, None] * d1[0] + (2 * v * u)[:, None] * d1[1] + (u * u)[:, None] * d1[2]
    q2 = v[:, None] * d2[0] + u[:, None] * d2[1]
    num = (q * q1).sum(1)
    den = (q1 * q1).sum(1) + (q * q2).sum(1)
    step = np.where(np.abs(den) > 1e-12, num / np.where(np.abs(den) > 1e-12, den, 1.0), 0.0)
    return np.asarray(np.clip(u - step, 0.0, 1.0))


def _fit_one(pts: np.ndarray, t0: np.ndarray, t1: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Least-squares cubic through ``pts[0]`` and ``pts[-1]`` with handle directions
    ``t0`` (leaving the start) and ``t1`` (leaving the end backwards)."""
    p0, p3 = pts[0], pts[-1]
    v = 1.0 - u
    b1 = 3 * v * v * u
    b2 = 3 * v * u * u
    a1 = b1[:, None] * t0
    a2 = b2[:, None] * t1
    c00 = (a1 * a1).sum()
    c01 = (a1 * a2).sum()
    c11 = (a2 * a2).sum()
    rest = pts - ((v**3 + b1)[:, None] * p0 + (b2 + u**3)[:, None] * p3)
    x0 = (rest * a1).sum()
    x1 = (rest * a2).sum()
    det = c00 * c11 - c01 * c01
    chord = float(np.linalg.norm(p3 - p0))
    alpha0 = alpha1 = chord / 3.0
    if abs(det) > 1e-12:
        s0 = (x0 * c11 - x1 * c01) / det
        s1 = (c00 * x1 - c01 * x0) / det
        # Negative or vanishing handles mean the fixed tangents do not fit: fall back.
        if s0 > 1e-3 * chord and s1 > 1e-3 * chord:
            alpha0, alpha1 = s0, s1
    return np.stack([p0, p0 + alpha0 * t0, p3 + alpha1 * t1, p3])


def _chord_params(pts: np.ndarray) -> np.ndarray:
    seg = np.linalg.norm(np.diff(pts, axis=0), axis=1)
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    return np.asarray(cum / max(cum[-1], 1e-12))


def _line(p0: np.ndarray, p1: np.ndarray) -> np.ndarray:
    d = p1 - p0
    return np.stack([p0, p0 + d / 3.0, p0 + 2.0 * d / 3.0, p1])


def _fit_run(  # noqa: PLR0917 - a recursive helper
    pts: np.ndarray,
    tol: np.ndarray,
    t0: np.ndarray,
    t1: np.ndarray,
    out: list[np.ndarray],
    depth: int = 0,
) -> None:
    """Append cubic control quadruples covering ``pts`` (end points included) to ``out``."""
    p0, p3 = pts[0], pts[-1]
    chord = p3 - p0
    length = float(np.linalg.norm(chord))
    if length < 1e-9 and len(pts) > 3:
        # A closed run (a ring with a single corner): cut it at its farthest point.
        i = int(np.argmax(np.linalg.norm(pts - p0, axis=1)))
        if 0 < i < len(pts) - 1:
            a, b = max(i - _TANGENT_ARM, 0), min(i + _TANGENT_ARM, len(pts) - 1)
            tan = _unit(pts[b] - pts[a])
            _fit_run(pts[: i + 1], tol[: i + 1], t0, -tan, out, depth + 1)
            _fit_run(pts[i:], tol[i:], tan, t1, out, depth + 1)
            return
    if len(pts) <= 3 or length < 1e-9:
        out.append(_line(p0, p3))
        return
    # Straight run: every point within tolerance of the chord.
    off = np.abs(chord[0] * (pts[:, 1] - p0[1]) - chord[1] * (pts[:, 0] - p0[0])) / length
    if np.all(off <= tol):
        out.append(_line(p0, p3))
        return
    u = _chord_params(pts)
    ctrl = _fit_one(pts, t0, t1, u)
    for _ in range(2):
        u = _reparam(ctrl, pts, u)
        ctrl = _fit_one(pts, t0, t1, u)
    err = np.linalg.norm(_bezier(ctrl, u) - pts, axis=1)
    excess = err - tol
    # The curve must also stay near the points (a fit can loop out between them).
    probe = _bezier(ctrl, _PROBES)
    gap = np.sqrt(((probe[:, None, :] - pts[None, :, :]) ** 2).sum(-1).min(1))
    strays = bool(np.any(gap > tol.max() + 1.0))
    if (np.all(excess <= 0) and not strays) or depth > 24:
        out.append(ctrl if not strays else _line(p0, p3))
        return
    if np.all(excess <= 0):  # only the curve strays: split in the middle
        excess = -np.abs(np.arange(len(pts)) - len(pts) / 2.0)
    # Split at the worst interior point with a smooth (shared) tangent there.
    i = int(np.argmax(excess[1:-1])) + 1
    a, b = max(i - _TANGENT_ARM, 0), min(i + _TANGENT_ARM, len(pts) - 1)
    tan = _unit(pts[b] - pts[a])
    _fit_run(pts[: i + 1], tol[: i + 1], t0, -tan, out, depth + 1)
    _fit_run(pts[i:], tol[i:], tan, t1, out, depth + 1)


def _end_tangent(pts: np.ndarray, forward: bool) -> np.ndarray:
    """Direction leaving a corner into its run, from the mean of the next few points."""
    k = min(len(pts) - 1, _ARM + 1)
    if forward:
        return _unit(pts[1 : k + 1].mean(0) - pts[0])
    return _unit(pts[-k - 1 : -1].mean(0) - pts[-1])


def fit_ring(pts: np.ndarray, tol: np.ndarray | float, corner_angle: float = 55.0) -> np.ndarray:
    """Fit the closed ring ``pts`` ``(N, 2)`` with cubics: ``(3M, 2)`` control points
    ``p0, c0a, c0b, p1, ...`` (the last segment returns to ``p0``).

    ``tol`` is the largest allowed distance of a point from the curve, per point or scalar.
    """
    n = len(pts)
    tol_a = np.broadcast_to(np.asarray(tol, dtype=np.float64), (n,)).copy()
    if n < 4:
        return np.asarray(np.concatenate([_line(pts[i], pts[(i + 1) % n])[:3] for i in range(n)]))
    corners = _corners(pts, corner_angle)
    smooth_cuts = len(corners) == 0
    if smooth_cuts:
        corners = np.array([0, n // 2])
    out: list[np.ndarray] = []
    for ci, start in enumerate(corners.tolist()):
        end = corners[(ci + 1) % len(corners)]
        idx = np.arange(start, end + (n if end <= start else 0) + 1) % n
        run = pts[idx]
        if smooth_cuts:
            # Shared tangents at the cuts keep the ring smooth there.
            k = min(_TANGENT_ARM, n // 4)
            t_start = _unit(pts[(start + k) % n] - pts[(start - k) % n])
            t_end = -_unit(pts[(end + k) % n] - pts[(end - k) % n])
        else:
            t_start = _end_tangent(run, forward=True)
            t_end = _end_tangent(run, forward=False)
        _fit_run(run, tol_a[idx], t_start, t_end, out)
    return np.asarray(np.concatenate([c[:3] for c in out]))
