"""Analytic coarse paths: region contours -> offset polygons -> closed cubic Béziers.

Each colour group becomes one compound path: every region of the group contributes its
outer contour and its holes. Contours come out of marching squares consistently oriented
(outer and holes opposite), so the non-zero fill rule draws holes correctly. Boundaries
shared by two regions are simplified identically from both sides; then the region drawn
first slides under its later neighbour (stacking), so no background shows between them
in any anti-aliasing renderer while the visible edge stays exact.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.measure import find_contours

from ..shapes import VPath
from ..superpixels import Segmentation

__all__ = [
    "contour_to_cubic",
    "cubic_rings",
    "fit_paths",
    "offset_edges",
    "offset_polygon",
    "offset_rings",
    "simplify_rings",
]

_PAD = 2


def offset_rings(pts: np.ndarray, cid: np.ndarray, delta: float) -> np.ndarray:
    """Move every vertex of many closed rings along its mitred normal by ``delta``.

    ``pts`` is ``(M, 2)`` with ring ids ``cid`` (sorted). A positive ``delta`` grows rings
    with negative shoelace area (outer contours as marching squares orients them in
    (x, y)) and shrinks positive ones (holes), so it always grows the filled region. The
    mitre is capped so that sharp spikes do not shoot out.
    """
    if delta == 0 or len(pts) == 0:
        return pts
    prv, nxt = _ring_neighbours(cid)
    e_out = pts[nxt] - pts
    e_in = pts - pts[prv]
    n_out = np.stack([-e_out[:, 1], e_out[:, 0]], axis=1)
    n_in = np.stack([-e_in[:, 1], e_in[:, 0]], axis=1)
    n_out /= np.maximum(np.linalg.norm(n_out, axis=1, keepdims=True), 1e-9)
    n_in /= np.maximum(np.linalg.norm(n_in, axis=1, keepdims=True), 1e-9)
    n = n_out + n_in
    norm = np.linalg.norm(n, axis=1, keepdims=True)
    n = np.where(norm > 1e-9, n / np.maximum(norm, 1e-9), n_out)
    cos_half = np.clip((n * n_out).sum(1, keepdims=True), 0.5, 1.0)
    return pts + n * (delta / cos_half)


def offset_edges(pts: np.ndarray, cid: np.ndarray, delta: np.ndarray) -> np.ndarray:
    """Move every edge ``i -> next(i)`` of many closed rings outward by its own
    ``delta[i]``; vertices go to the intersection of their two moved edges.

    Same orientation convention as :func:`offset_rings` (positive grows the region).
    """
    if len(pts) == 0 or not np.any(delta):
        return pts
    prv, nxt = _ring_neighbours(cid)
    e = pts[nxt] - pts
    n = np.stack([-e[:, 1], e[:, 0]], axis=1)
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-9)
    n1, d1 = n[prv], delta[prv]  # incoming edge
    n2, d2 = n, delta  # outgoing edge
    det = n1[:, 0] * n2[:, 1] - n1[:, 1] * n2[:, 0]
    safe = np.abs(det) > 0.2
    det_s = np.where(safe, det, 1.0)
    x = (d1 * n2[:, 1] - d2 * n1[:, 1]) / det_s
    y = (n1[:, 0] * d2 - n2[:, 0] * d1) / det_s
    move = np.stack([x, y], axis=1)
    # Nearly parallel edges (or a spike): push along the mean normal instead.
    mean_n = n1 + n2
    mean_n /= np.maximum(np.linalg.norm(mean_n, axis=1, keepdims=True), 1e-9)
    fallback = mean_n * np.maximum(d1, d2)[:, None]
    move = np.where(safe[:, None], move, fallback)
    # Cap the mitre so that sharp corners do not shoot out.
    cap = 2.0 * np.maximum(np.maximum(d1, d2), 1e-9)
    length = np.linalg.norm(move, axis=1)
    move *= np.minimum(1.0, cap / np.maximum(length, 1e-9))[:, None]
    return pts + move


def offset_polygon(poly: np.ndarray, delta: float) -> np.ndarray:
    """:func:`offset_rings` for one polygon."""
    return offset_rings(poly, np.zeros(len(poly), dtype=np.int64), delta)


def cubic_rings(pts: np.ndarray, cid: np.ndarray, smooth_angle: float) -> np.ndarray:
    """Closed polygons -> closed cubic Béziers, ``(M, 2)`` -> ``(3M, 2)`` ring by ring.

    Vertices that turn by less than ``smooth_angle`` degrees get a tangent through their
    neighbours (a smooth curve); sharper vertices stay corners. Edges between two corners
    are straight (controls at 1/3 and 2/3).
    """
    prv, nxt = _ring_neighbours(cid)
    p_next = pts[nxt]
    d_out = p_next - pts
    c1 = pts + d_out / 3.0
    c2 = p_next - d_out / 3.0
    if smooth_angle > 0:
        d_in = pts - pts[prv]
        l_out = np.linalg.norm(d_out, axis=1, keepdims=True)
        l_in = np.linalg.norm(d_in, axis=1, keepdims=True)
        u_out = d_out / np.maximum(l_out, 1e-9)
        u_in = d_in / np.maximum(l_in, 1e-9)
        smooth = (u_out * u_in).sum(1) > np.cos(np.radians(smooth_angle))
        tangent = p_next - pts[prv]
        tangent /= np.maximum(np.linalg.norm(tangent, axis=1, keepdims=True), 1e-9)
        # Outgoing handle of a smooth vertex i, incoming handle of smooth vertex next(i).
        c1 = np.where(smooth[:, None], pts + tangent * l_out / 3.0, c1)
        c2 = np.where(smooth[nxt][:, None], p_next - tangent[nxt] * l_out / 3.0, c2)
    out = np.empty((3 * len(pts), 2), dtype=np.float64)
    out[0::3] = pts
    out[1::3] = c1
    out[2::3] = c2
    return out


def contour_to_cubic(poly: np.ndarray, smooth_angle: float) -> np.ndarray:
    """:func:`cubic_rings` for one polygon."""
    return cubic_rings(poly, np.zeros(len(poly), dtype=np.int64), smooth_angle)


def _ring_neighbours(cid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Previous / next index within each closed ring of a concatenated point array.

    ``cid`` is the (sorted) ring id per point."""
    n = len(cid)
    idx = np.arange(n)
    starts = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]])
    lengths = np.diff(np.r_[starts, n])
    ring = np.repeat(np.arange(len(starts)), lengths)
    local = idx - starts[ring]
    nxt = starts[ring] + (local + 1) % lengths[ring]
    prv = starts[ring] + (local - 1) % lengths[ring]
    return prv, nxt


def simplify_rings(
    polys: list[np.ndarray],
    tolerance: float,
    fixed: list[np.ndarray] | None = None,
    passes: int = 8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simplify many closed polygons at once (vectorised over all of them).

    Each pass removes vertices whose distance to the chord of their neighbours is under
    ``tolerance`` and smaller than both neighbours' (never two adjacent ones in one pass),
    which approximates Douglas-Peucker at a fraction of the per-polygon overhead. Rings
    keep at least 3 vertices; ``fixed`` vertices (junctions) are never removed. Every
    decision depends only on a vertex and its neighbours (ties broken by a hash of the
    coordinates), so a boundary shared by two regions between fixed junctions is
    simplified identically from both sides and no gap opens between them.
    Returns the kept points (concatenated), their ring ids and their input indices.
    """
    if not polys:
        return np.empty((0, 2)), np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64)
    pts = np.concatenate(polys).astype(np.float64)
    cid = np.repeat(np.arange(len(polys)), [len(p) for p in polys])
    idx = np.arange(len(pts))
    pinned = np.concatenate(fixed).astype(bool) if fixed is not None else np.zeros(len(pts), bool)
    # Deterministic per-point jitter (same point -> same value in every ring).
    jitter = np.modf(np.abs(np.sin(pts[:, 0] * 12.9898 + pts[:, 1] * 78.233)) * 43758.5453)[0]
    # err[i]: bound on how far removed points lie from the edge i -> next(i).
    err = np.zeros(len(pts))
    for _ in range(passes):
        prv, nxt = _ring_neighbours(cid)
        a, b = pts[prv], pts[nxt]
        ab = b - a
        ln = np.hypot(ab[:, 0], ab[:, 1])
        ap = pts - a
        cross = np.abs(ab[:, 0] * ap[:, 1] - ab[:, 1] * ap[:, 0])
        dist = np.where(ln > 1e-9, cross / np.maximum(ln, 1e-9), np.hypot(ap[:, 0], ap[:, 1]))
        # Points removed earlier next to v lie within their edge's error of the old
        # edges, which lie within dist(v) of the new chord. The sum bounds the deviation;
        # half of it is a closer estimate (errors rarely line up), and keeps staircases
        # from pinning many vertices.
        merged = dist + 0.5 * np.maximum(err[prv], err)
        counts = np.bincount(cid, minlength=len(polys))
        key = merged + jitter * 1e-6
        drop = (
            (merged < tolerance) & (key < key[prv]) & (key < key[nxt]) & (counts[cid] > 3) & ~pinned
        )
        if not drop.any():
            break
        # Do not shrink any ring below 3 vertices in one pass.
        remaining = counts - np.bincount(cid[drop], minlength=len(polys))
        drop &= remaining[cid] >= 3
        # The surviving previous vertex inherits the merged edge's error bound.
        err[prv[drop]] = merged[drop]
        keep = ~drop
        pts, cid, pinned, jitter, err = pts[keep], cid[keep], pinned[keep], jitter[keep], err[keep]
        idx = idx[keep]
    return pts, cid, idx


def _junctions(
    rc: np.ndarray, cid: np.ndarray, inside: np.ndarray, padded: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Which contour points end a shared boundary (the region across changes there), and
    the label across at every point (-1 beyond the map).

    ``rc`` are (row, col) points in ``padded`` coordinates, ``cid`` their ring ids and
    ``inside`` the label of the region each ring encloses. Marching squares on a binary
    mask puts every point midway between two 4-adjacent pixel centres, one inside and
    one outside; the label across is the outside one.
    """
    ph, pw = padded.shape
    r, q = rc[:, 0], rc[:, 1]
    on_row = np.abs(r - np.round(r)) < 1e-6
    r1 = np.where(on_row, np.round(r), np.floor(r)).astype(np.int64)
    q1 = np.where(on_row, np.floor(q), np.round(q)).astype(np.int64)
    r2 = np.where(on_row, r1, r1 + 1)
    q2 = np.where(on_row, q1 + 1, q1)

    def at(rr: np.ndarray, qq: np.ndarray) -> np.ndarray:
        ok = (rr >= 0) & (rr < ph) & (qq >= 0) & (qq < pw)
        return np.where(ok, padded[np.clip(rr, 0, ph - 1), np.clip(qq, 0, pw - 1)], -1)

    l1, l2 = at(r1, q1), at(r2, q2)
    other = np.where(l1 == inside, l2, l1)
    prv, nxt = _ring_neighbours(cid)
    return np.asarray((other != other[prv]) | (other != other[nxt])), other


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
    alpha: np.ndarray | None = None,
) -> list[VPath]:
    """One compound path per colour group, in painter's order (largest first).

    ``scale`` maps working pixels to output pixels (x, y). With ``alpha`` (working-size
    coverage in [0, 1]) edges against transparency follow the anti-aliased coverage at
    sub-pixel precision instead of the pixel grid. With ``background`` the largest
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
    alpha_p = np.pad(alpha, _PAD, mode="edge") if alpha is not None else None
    boxes = ndimage.find_objects(padded)
    rings: list[np.ndarray] = []
    ring_group: list[int] = []
    for g in order:
        if g == bg_group or sizes[g] <= 0:
            continue
        box = boxes[g] if g < len(boxes) else None
        if box is None:
            continue
        r0, c0 = box[0].start, box[1].start
        lab = padded[box]
        field = (lab == g + 1).astype(np.float32)
        if alpha_p is not None:
            # Inside pixels stay above the iso-level and transparent ones below it; their
            # coverage places the crossing between them (points stay on the segment
            # joining the two pixel centres, as the junction test expects).
            a = alpha_p[box].astype(np.float32)
            field = np.where(
                lab == g + 1, np.maximum(a, 0.55), np.where(lab == 0, np.minimum(a, 0.45), 0.0)
            )
        crop = np.pad(field, 1)
        for c in find_contours(crop, 0.5, positive_orientation="high"):
            if len(c) < 4:
                continue
            # (row, col) in the crop -> in the padded map.
            rings.append(c[:-1] + np.array([r0 - 1, c0 - 1]))
            ring_group.append(int(g))
    fixed = None
    other = np.empty(0, dtype=np.int64)
    if rings:
        lens = [len(r) for r in rings]
        rc = np.concatenate(rings)
        rid = np.repeat(np.arange(len(rings)), lens)
        inside = np.repeat(np.asarray(ring_group) + 1, lens)
        pinned, other = _junctions(rc, rid, inside, padded)
        fixed = np.split(pinned, np.cumsum(lens)[:-1])
        # (row, col) in the padded map -> pixel-centre (x, y) in working pixels.
        xy = np.stack([rc[:, 1] - _PAD + 0.5, rc[:, 0] - _PAD + 0.5], axis=1)
        rings = np.split(xy, np.cumsum(lens)[:-1])
    pts, cid, kept = simplify_rings(rings, tolerance, fixed)
    # Stacking instead of gaps: where a region borders one drawn later, its edge slides
    # under that neighbour by ``dilate``; where it is drawn on top it keeps the exact
    # boundary. Every boundary is then covered (no crack in any renderer) and no colour
    # spills onto the neighbour that is visible there.
    rank = np.full(n_groups + 2, -1, dtype=np.int64)  # index: label + 1 (-1 -> 0, void -> 1)
    rank[np.asarray(order) + 2] = np.arange(len(order))
    if bg_group >= 0:
        rank[bg_group + 2] = -1
    if len(pts):
        own = rank[np.asarray(ring_group)[cid] + 2]
        across = rank[np.clip(other[kept] + 1, 0, None)]
        # Beyond the map (-1) and transparent pixels (0) are never covered by anything.
        across = np.where(other[kept] <= 0, -1, across)
        under = across > own
        _, nxt = _ring_neighbours(cid)
        delta = np.where(under | under[nxt], dilate, 0.0)
        grown = offset_edges(pts, cid, delta) * np.array([sx, sy])
    else:
        grown = pts
    cubic = cubic_rings(grown, cid, smooth_angle)
    starts = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]]) if len(cid) else np.empty(0, int)
    ends = np.r_[starts[1:], len(cid)]
    _, nxt = _ring_neighbours(cid)
    cross = pts[:, 0] * pts[nxt, 1] - pts[:, 1] * pts[nxt, 0]
    ring_area = np.abs(0.5 * np.bincount(cid, weights=cross, minlength=len(rings)))
    by_group: dict[int, list[np.ndarray]] = {}
    for s0, s1 in zip(starts.tolist(), ends.tolist(), strict=True):
        if s1 - s0 < 3 or ring_area[cid[s0]] < min_area:
            continue
        g = ring_group[int(cid[s0])]
        by_group.setdefault(g, []).append(cubic[3 * s0 : 3 * s1])
    for g in order:
        if int(g) in by_group:
            paths.append(VPath(subpaths=by_group[int(g)], color=colors[g].copy()))
    return paths
