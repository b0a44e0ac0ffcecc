"""Analytic coarse shapes: regions -> stacked outlines -> polygons or cubic Béziers.

Each region becomes one shape drawn as its outer outline, in painter's order by filled
area, so islands sit on top of the shape around them and need no holes (only holes onto
transparency are kept). Contours come out of marching squares consistently oriented,
then move to the sub-pixel edge the anti-aliased colours show. Where a region borders
one drawn later, it slides under it (stacking), so no background shows between them in
any anti-aliasing renderer while the visible edge stays exact.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.measure import find_contours

from ..shapes import VPath, polygon_area
from ..superpixels import Segmentation
from .curves import fit_ring

__all__ = [
    "contour_to_cubic",
    "cubic_rings",
    "fit_layers",
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


def _pixel_pair(rc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two 4-adjacent pixels (row, col) each marching-squares point lies between."""
    r, q = rc[:, 0], rc[:, 1]
    on_row = np.abs(r - np.round(r)) < 1e-6
    r1 = np.where(on_row, np.round(r), np.floor(r)).astype(np.int64)
    q1 = np.where(on_row, np.floor(q), np.round(q)).astype(np.int64)
    return r1, q1, np.where(on_row, r1, r1 + 1), np.where(on_row, q1 + 1, q1)


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
    r1, q1, r2, q2 = _pixel_pair(rc)

    def at(rr: np.ndarray, qq: np.ndarray) -> np.ndarray:
        ok = (rr >= 0) & (rr < ph) & (qq >= 0) & (qq < pw)
        return np.where(ok, padded[np.clip(rr, 0, ph - 1), np.clip(qq, 0, pw - 1)], -1)

    l1, l2 = at(r1, q1), at(r2, q2)
    other = np.where(l1 == inside, l2, l1)
    prv, nxt = _ring_neighbours(cid)
    return np.asarray((other != other[prv]) | (other != other[nxt])), other


def _subpixel(
    rc: np.ndarray,
    inside: np.ndarray,
    padded: np.ndarray,
    image: np.ndarray,
    colors: np.ndarray,
) -> np.ndarray:
    """Move contour points along their grid edge to where the anti-aliased colour crosses
    halfway between the two regions' colours.

    Marching squares on a label mask puts every point midway between a pixel inside and a
    pixel outside. The colours of those two pixels, projected on the axis from the colour
    across to the region's colour, say how much of each pixel the region covers; the edge
    goes where that projection crosses one half. ``image`` is the padded premultiplied
    RGBA, ``colors`` the premultiplied colour per padded label (0 = void: transparent).
    Both sides of a shared boundary get the same point (the projection is symmetric).
    """
    ph, pw = padded.shape
    r1, q1, r2, q2 = _pixel_pair(rc)
    ok = (r1 >= 0) & (q1 >= 0) & (r2 < ph) & (q2 < pw)
    r1c, q1c = np.clip(r1, 0, ph - 1), np.clip(q1, 0, pw - 1)
    r2c, q2c = np.clip(r2, 0, ph - 1), np.clip(q2, 0, pw - 1)
    l1 = padded[r1c, q1c]
    first_in = l1 == inside
    rin = np.where(first_in, r1c, r2c)
    qin = np.where(first_in, q1c, q2c)
    rout = np.where(first_in, r2c, r1c)
    qout = np.where(first_in, q2c, q1c)
    c_in = colors[inside]
    c_out = colors[padded[rout, qout]]
    axis = c_in - c_out
    norm2 = (axis * axis).sum(1)
    ok &= norm2 > 1e-4
    safe = np.where(ok, norm2, 1.0)
    t_in = ((image[rin, qin] - c_out) * axis).sum(1) / safe
    t_out = ((image[rout, qout] - c_out) * axis).sum(1) / safe
    t_in = np.clip(t_in, 0.55, 1.0)
    t_out = np.clip(t_out, 0.0, 0.45)
    s = (0.5 - t_out) / (t_in - t_out)  # from the outside pixel towards the inside one
    s = np.where(ok, s, 0.5)
    p_in = np.stack([rin, qin], axis=1).astype(np.float64)
    p_out = np.stack([rout, qout], axis=1).astype(np.float64)
    return np.asarray(p_out + s[:, None] * (p_in - p_out))


def fit_layers(
    seg: Segmentation,
    image: np.ndarray,
    *,
    tolerance: float,
    dilate: float,
    curves: bool,
    corner_angle: float,
    background: bool,
    scale: tuple[float, float] = (1.0, 1.0),
    min_area: float = 0.2,
) -> list[VPath]:
    """One shape per region, stacked in painter's order (largest filled area first).

    Every region is drawn as its outer outline: the regions inside it (islands) have a
    smaller filled area, so they are drawn later, on top, and need no hole. Only holes
    onto transparency are kept (they cost an outline each). Where a region borders one
    drawn later, its edge slides ``dilate`` pixels under that neighbour, so no background
    shows through anti-aliased edges; where it is on top it keeps the exact edge. Edges
    sit at sub-pixel positions read from the anti-aliased colours (``image``: the working
    image, premultiplied RGBA in [0, 1]). With ``curves`` each outline is fitted with cubic
    Béziers (corners above ``corner_angle`` kept), else simplified to a polygon; hidden
    edges (under a later neighbour) get ``dilate`` more tolerance. ``scale`` maps working
    pixels to output pixels. With ``background`` (opaque input) the first region becomes a
    canvas rectangle.
    """
    labels = seg.labels
    h, w = labels.shape
    k = seg.num_regions
    if k == 0:
        return []
    filled = np.zeros(k + 1)
    boxes = ndimage.find_objects(labels)
    for reg in range(1, k + 1):
        box = boxes[reg - 1]
        if box is not None:
            filled[reg] = ndimage.binary_fill_holes(labels[box] == reg).sum()
    order = np.argsort(-filled[1:], kind="stable") + 1
    rank = np.full(k + 2, -1, dtype=np.int64)
    rank[order] = np.arange(k)
    sx, sy = scale
    paths: list[VPath] = []
    bg = -1
    if background and k > 1 and not (labels == 0).any():
        bg = int(order[0])
        rect = np.array([[0.0, 0.0], [w, 0.0], [w, h], [0.0, h]]) * np.array([sx, sy])
        paths.append(
            VPath(
                subpaths=[contour_to_cubic(rect, 0.0)],
                color=np.array([*seg.colors[bg, :3], 1.0]),
                is_background=True,
            )
        )
    # Edge replication makes shapes that touch the border run past it (no thin gaps).
    padded = np.pad(labels, _PAD, mode="edge")
    image_p = np.pad(image, ((_PAD, _PAD), (_PAD, _PAD), (0, 0)), mode="edge")
    pm = seg.colors.copy()
    pm[:, :3] *= pm[:, 3:4]
    pm[0] = 0.0  # void is transparent
    pboxes = ndimage.find_objects(padded)
    rings: list[np.ndarray] = []
    ring_region: list[int] = []
    for reg in order.tolist():
        if reg == bg or pboxes[reg - 1] is None:
            continue
        box = pboxes[reg - 1]
        r0, c0 = box[0].start, box[1].start
        crop = np.pad((padded[box] == reg).astype(np.float32), 1)
        for c in find_contours(crop, 0.5, positive_orientation="high"):
            if len(c) < 4:
                continue
            rings.append(c[:-1] + np.array([r0 - 1, c0 - 1]))
            ring_region.append(reg)
    if not rings:
        return paths
    lens = [len(r) for r in rings]
    rc = np.concatenate(rings)
    rid = np.repeat(np.arange(len(rings)), lens)
    inside = np.repeat(np.asarray(ring_region), lens)
    pins, other = _junctions(rc, rid, inside, padded)
    # Outer outlines turn one way, holes the other; keep holes onto transparency only.
    xy0 = np.stack([rc[:, 1], rc[:, 0]], axis=1)
    _, nxt0 = _ring_neighbours(rid)
    cross0 = xy0[:, 0] * xy0[nxt0, 1] - xy0[:, 1] * xy0[nxt0, 0]
    signed = 0.5 * np.bincount(rid, weights=cross0, minlength=len(rings))
    onto_void = np.bincount(rid, weights=(other == 0).astype(np.float64), minlength=len(rings))
    keep_ring = (signed < 0) | (onto_void > 0)
    keep_pt = keep_ring[rid]
    rc, rid, inside = rc[keep_pt], rid[keep_pt], inside[keep_pt]
    pins, other = pins[keep_pt], other[keep_pt]
    rid = np.unique(rid, return_inverse=True)[1]
    ring_region = [r for r, kp in zip(ring_region, keep_ring.tolist(), strict=True) if kp]
    pos = _subpixel(rc, inside, padded, image_p, pm)
    # (row, col) in the padded map -> pixel-centre (x, y) in working pixels.
    xy = np.stack([pos[:, 1] - _PAD + 0.5, pos[:, 0] - _PAD + 0.5], axis=1)
    # A point's edge is hidden when the region across is drawn later (on top of it).
    own = rank[inside]
    across = np.where(other > 0, rank[np.clip(other, 0, k)], -1)
    hidden = across > own
    _, nxt = _ring_neighbours(rid)
    if curves:
        delta = np.where(hidden | hidden[nxt], dilate, 0.0)
        grown = offset_edges(xy, rid, delta)
        tol = np.where(hidden, tolerance + dilate, tolerance)
        starts = np.flatnonzero(np.r_[True, rid[1:] != rid[:-1]])
        ends = np.r_[starts[1:], len(rid)]
        loops = [
            fit_ring(grown[a:b], tol[a:b], corner_angle) * np.array([sx, sy])
            for a, b in zip(starts.tolist(), ends.tolist(), strict=True)
        ]
        areas = [abs(polygon_area(grown[a:b])) for a, b in zip(starts, ends, strict=True)]
    else:
        fixed = np.split(pins, np.cumsum(np.bincount(rid))[:-1])
        ring_pts = np.split(xy, np.cumsum(np.bincount(rid))[:-1])
        pts, cid, kept = simplify_rings(ring_pts, tolerance, fixed)
        hid = hidden[kept]
        _, nxt2 = _ring_neighbours(cid)
        delta = np.where(hid | hid[nxt2], dilate, 0.0)
        grown = offset_edges(pts, cid, delta) * np.array([sx, sy])
        cubic = cubic_rings(grown, cid, 0.0)
        starts = np.flatnonzero(np.r_[True, cid[1:] != cid[:-1]])
        ends = np.r_[starts[1:], len(cid)]
        loops = [cubic[3 * a : 3 * b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]
        ring_of = cid[starts]
        areas = [abs(polygon_area(pts[a:b])) for a, b in zip(starts, ends, strict=True)]
        ring_region = [ring_region[i] for i in ring_of.tolist()]
    by_region: dict[int, list[np.ndarray]] = {}
    for loop, reg, area in zip(loops, ring_region, areas, strict=True):
        if len(loop) >= 6 and area >= min_area:
            by_region.setdefault(reg, []).append(loop)
    palette = seg.palette
    for reg in order.tolist():
        if reg in by_region:
            meta = {"region": float(reg)}
            if palette is not None:
                meta["palette"] = float(palette[reg])
            # The outer outline first: holes follow it.
            subs = sorted(by_region[reg], key=lambda s: -abs(polygon_area(s[0::3])))
            paths.append(VPath(subpaths=subs, color=seg.colors[reg].copy(), meta=meta))
    if bg >= 0:
        paths[0].meta = {"region": float(bg)}
        if palette is not None:
            paths[0].meta["palette"] = float(palette[bg])
    return paths
