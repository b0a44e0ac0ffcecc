"""Analytic coarse paths: region contours -> offset polygons -> closed cubic Béziers.

Each colour group becomes one compound path: every region of the group contributes its
outer contour and its holes. Contours come out of marching squares consistently oriented
(outer counter-clockwise, holes clockwise in (row, col)), so the non-zero fill rule
draws holes correctly and every contour can be pushed outward by the same signed offset:
neighbouring regions then overlap by a fraction of a pixel and no background shows
between them in any renderer.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.measure import approximate_polygon, find_contours

from ..shapes import VPath, polygon_area
from ..superpixels import Segmentation

__all__ = ["contour_to_cubic", "fit_paths", "offset_polygon"]

_PAD = 2


def offset_polygon(poly: np.ndarray, delta: float) -> np.ndarray:
    """Move the vertices of a positively oriented closed polygon ``(N, 2)`` outward.

    Uses the mitred vertex normal, capped so that sharp spikes do not shoot out.
    """
    if delta == 0 or len(poly) < 3:
        return poly
    nxt = np.roll(poly, -1, axis=0)
    prv = np.roll(poly, 1, axis=0)
    e_out = nxt - poly
    e_in = poly - prv
    n_out = np.stack([e_out[:, 1], -e_out[:, 0]], axis=1)
    n_in = np.stack([e_in[:, 1], -e_in[:, 0]], axis=1)
    n_out /= np.maximum(np.linalg.norm(n_out, axis=1, keepdims=True), 1e-9)
    n_in /= np.maximum(np.linalg.norm(n_in, axis=1, keepdims=True), 1e-9)
    n = n_out + n_in
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(norm > 1e-9, n / np.maximum(norm, 1e-9), n_out)
    cos_half = np.clip((n * n_out).sum(1, keepdims=True), 0.5, 1.0)
    return poly + n * (delta / cos_half)


def contour_to_cubic(poly: np.ndarray, smooth_angle: float) -> np.ndarray:
    """Closed polygon ``(N, 2)`` -> closed cubic Bézier points ``(3N, 2)``.

    Vertices that turn by less than ``smooth_angle`` degrees get a tangent through their
    neighbours (a smooth curve); sharper vertices stay corners. Edges between two corners
    are straight (controls at 1/3 and 2/3).
    """
    nxt = np.roll(poly, -1, axis=0)
    prv = np.roll(poly, 1, axis=0)
    d_out = nxt - poly
    d_in = poly - prv
    l_out = np.linalg.norm(d_out, axis=1, keepdims=True)
    l_in = np.linalg.norm(d_in, axis=1, keepdims=True)
    c1 = poly + d_out / 3.0
    c2 = nxt - d_out / 3.0
    if smooth_angle > 0:
        u_out = d_out / np.maximum(l_out, 1e-9)
        u_in = d_in / np.maximum(l_in, 1e-9)
        cos_turn = (u_out * u_in).sum(1)
        smooth = cos_turn > np.cos(np.radians(smooth_angle))
        tangent = nxt - prv
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
        # Outgoing handle of a smooth vertex i, incoming handle of smooth vertex i+1.
        c1 = np.where(smooth[:, None], poly + tangent * l_out / 3.0, c1)
        smooth_next = np.roll(smooth, -1)
        tangent_next = np.roll(tangent, -1, axis=0)
        c2 = np.where(smooth_next[:, None], nxt - tangent_next * l_out / 3.0, c2)
    out = np.empty((3 * len(poly), 2), dtype=np.float64)
    out[0::3] = poly
    out[1::3] = c1
    out[2::3] = c2
    return out


def _group_contours(
    mask: np.ndarray, tolerance: float, delta: float, min_area: float
) -> list[np.ndarray]:
    """Simplified, offset contours (row, col) of a padded boolean crop."""
    out = []
    for c in find_contours(mask.astype(np.float32), 0.5, positive_orientation="high"):
        if len(c) < 4:
            continue
        poly = approximate_polygon(c, tolerance)[:-1] if tolerance > 0 else c[:-1]
        if len(poly) < 3 or abs(polygon_area(poly)) < min_area:
            continue
        out.append(offset_polygon(poly, delta))
    return out


def fit_paths(
    seg: Segmentation,
    group: np.ndarray,
    *,
    tolerance: float,
    dilate: float,
    smooth_angle: float,
    background: bool,
    scale: tuple[float, float] = (1.0, 1.0),
    min_area: float = 0.2,
) -> list[VPath]:
    """One compound path per colour group, in painter's order (largest first).

    ``scale`` maps working pixels to output pixels (x, y). With ``background`` the largest
    group becomes a full-canvas rectangle drawn first and its own regions are not traced.
    """
    labels = seg.labels
    h, w = labels.shape
    gmap = group[labels]  # -1 is transparent
    n_groups = int(group.max()) + 1 if len(group) > 1 else 0
    if n_groups == 0:
        return []
    # Premultiplied sums give each group's colour as the size-weighted region mean.
    sizes = np.bincount(group[1:], weights=seg.sizes[1:], minlength=n_groups)
    pm = seg.colors[1:].copy()
    pm[:, :3] *= pm[:, 3:4]
    sums = np.stack(
        [
            np.bincount(group[1:], weights=seg.sizes[1:] * pm[:, c], minlength=n_groups)
            for c in range(4)
        ],
        axis=1,
    )
    colors = sums / np.maximum(sizes, 1e-9)[:, None]
    colors[:, :3] /= np.maximum(colors[:, 3:4], 1e-9)
    colors = np.clip(colors, 0.0, 1.0)
    order = np.argsort(-sizes, kind="stable")
    sx, sy = scale
    paths: list[VPath] = []
    bg_group = -1
    if background and n_groups > 1 and not (gmap < 0).any():
        bg_group = int(order[0])
        rect = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]]) * np.array([sx, sy])
        paths.append(
            VPath(
                subpaths=[contour_to_cubic(rect, 0.0)],
                color=np.array([*colors[bg_group, :3], 1.0]),
                is_background=True,
            )
        )
    # Edge replication makes shapes that touch the border run past it (no thin gaps).
    padded = np.pad(gmap + 1, _PAD, mode="edge")
    boxes = ndimage.find_objects(padded)
    for g in order:
        if g == bg_group or sizes[g] <= 0:
            continue
        box = boxes[g] if g < len(boxes) else None
        if box is None:
            continue
        r0, r1 = box[0].start, box[0].stop
        c0, c1 = box[1].start, box[1].stop
        crop = np.pad(padded[r0:r1, c0:c1] == g + 1, 1)
        subpaths = []
        for poly in _group_contours(crop, tolerance, dilate, min_area):
            # (row, col) in the crop -> pixel-centre (x, y) in the output image.
            x = (poly[:, 1] + c0 - 1 - _PAD + 0.5) * sx
            y = (poly[:, 0] + r0 - 1 - _PAD + 0.5) * sy
            subpaths.append(contour_to_cubic(np.stack([x, y], axis=1), smooth_angle))
        if subpaths:
            paths.append(VPath(subpaths=subpaths, color=colors[g].copy()))
    return paths
