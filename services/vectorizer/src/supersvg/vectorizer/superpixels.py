"""Superpixels (SLIC), merged into the regions that become the SVG's shapes.

One job, pixels to regions: superpixels, merging, anti-aliasing clean-up, palette.

SLIC over-segments the image; adjacent superpixels are then merged greedily by Ward's
criterion (the increase in squared colour error a merge causes) down to the shape budget,
and further while merges cost nothing visible, so flat areas become one region and detailed
areas keep small ones. With a palette limit, region colours are then quantized (weighted
k-means) and neighbours of equal colour merged. Every region is connected; transparent
pixels get label 0 and are never drawn.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.cluster.vq import vq
from skimage.color import rgb2lab
from skimage.segmentation import slic

from .config import Preset

__all__ = [
    "Segmentation",
    "absorb_slivers",
    "edge_weights",
    "merge_regions",
    "premultiplied",
    "quantize",
    "region_colors",
    "segment",
    "snap_boundaries",
    "superpixels",
    "void_holes",
]

_CROSS = np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]], dtype=bool)

#: Pixels with alpha below this (out of 255) count as transparent (label 0). Near the
#: middle, so that anti-aliased edges of transparent art end where coverage is half (the
#: vector edge then lands where the original one was).
VOID_ALPHA = 100


@dataclass
class Segmentation:
    """``labels`` is ``(H, W)`` int32 with 0 for transparent pixels and 1..K for regions;
    ``colors[k]`` is region k's mean straight RGBA in [0, 1] and ``sizes[k]`` its pixel count
    (index 0 unused)."""

    labels: np.ndarray
    colors: np.ndarray
    sizes: np.ndarray
    #: Palette index per region when colours are quantized (index 0 unused), else None.
    palette: np.ndarray | None = None

    @property
    def num_regions(self) -> int:
        return len(self.sizes) - 1


def _region_stats(
    labels: np.ndarray, feats: np.ndarray, k: int, weights: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel count, weighted feature sums and weight sums per label."""
    flat = labels.ravel()
    sizes = np.bincount(flat, minlength=k + 1).astype(np.float64)
    w = np.ones(flat.shape) if weights is None else weights.ravel()
    sums = np.stack(
        [np.bincount(flat, weights=w * feats[..., c].ravel(), minlength=k + 1) for c in range(4)],
        axis=1,
    )
    return sizes, sums, np.bincount(flat, weights=w, minlength=k + 1)


#: Local contrast (squared premultiplied RGBA difference to a 4-neighbour) at which a
#: pixel's weight in its region's colour falls to 1/e: anti-aliased edge pixels are blends
#: of two colours and must not pull a flat region's colour towards its neighbour's.
EDGE_CONTRAST = 0.004


def edge_weights(stat: np.ndarray) -> np.ndarray:
    """Per-pixel weight in region colour statistics: 1 in flat areas, small on edges."""
    c = np.zeros(stat.shape[:2])
    dx = ((stat[:, 1:] - stat[:, :-1]) ** 2).sum(-1)
    dy = ((stat[1:] - stat[:-1]) ** 2).sum(-1)
    c[:, 1:] = np.maximum(c[:, 1:], dx)
    c[:, :-1] = np.maximum(c[:, :-1], dx)
    c[1:] = np.maximum(c[1:], dy)
    c[:-1] = np.maximum(c[:-1], dy)
    return np.asarray(np.maximum(np.exp(-c / EDGE_CONTRAST), 0.02))


def _adjacency(labels: np.ndarray) -> np.ndarray:
    """Unique unordered pairs of 4-adjacent distinct non-void labels, shape (E, 2)."""
    a = np.concatenate([labels[:, :-1].ravel(), labels[:-1, :].ravel()])
    b = np.concatenate([labels[:, 1:].ravel(), labels[1:, :].ravel()])
    keep = (a != b) & (a > 0) & (b > 0)
    a, b = a[keep], b[keep]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pairs = np.unique(lo.astype(np.int64) * (labels.max() + 1) + hi)
    n = labels.max() + 1
    return np.stack([pairs // n, pairs % n], axis=1)


def merge_regions(
    labels: np.ndarray,
    feats: np.ndarray,
    target: int,
    *,
    free_error: float = 0.0,
    weights: np.ndarray | None = None,
) -> np.ndarray:
    """Merge adjacent regions (Ward's criterion on ``feats``) until at most ``target`` remain,
    and beyond that while the summed squared error of all merges stays within ``free_error``
    (merges that cost nothing visible: anti-aliasing slivers, noise in flat colour).

    ``feats`` is ``(H, W, 4)`` float; label 0 is left untouched. Region colours are
    ``weights``-weighted means (see :func:`edge_weights`); the criterion's sizes are pixel
    counts. Returns relabelled 1..K.
    """
    k = int(labels.max())
    sizes, sums, wsums = _region_stats(labels, feats, k, weights)
    alive = sizes > 0
    alive[0] = False
    count = int(alive.sum())
    parent = np.arange(k + 1)
    if count > target or free_error > 0:
        # Plain Python floats: the heap loop touches tiny vectors, where numpy is slow.
        n_l: list[float] = sizes.tolist()
        s_l: list[list[float]] = sums.tolist()
        w_l: list[float] = np.maximum(wsums, 1e-9).tolist()
        neigh: list[set[int]] = [set() for _ in range(k + 1)]
        pairs = _adjacency(labels)
        for i, j in pairs.tolist():
            neigh[i].add(j)
            neigh[j].add(i)
        version = [0] * (k + 1)
        alive_l: list[bool] = alive.tolist()
        par: list[int] = parent.tolist()

        # Region means, kept up to date: a cost is then a few products (the same floats as
        # dividing the sums each time).
        m_l: list[list[float]] = [[v / w for v in sv] for sv, w in zip(s_l, w_l, strict=True)]

        def cost(i: int, j: int) -> float:
            ni, nj = n_l[i], n_l[j]
            mi, mj = m_l[i], m_l[j]
            d0 = mi[0] - mj[0]
            d1 = mi[1] - mj[1]
            d2 = mi[2] - mj[2]
            d3 = mi[3] - mj[3]
            return ni * nj / (ni + nj) * (d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3)

        heap = [(cost(i, j), i, j, 0, 0) for i, j in pairs.tolist()]
        heapq.heapify(heap)
        live = len(heap)  # entries still valid: one per adjacent pair of live regions
        spent = 0.0
        while heap and count > 1:
            if len(heap) > 4 * live + 4096:
                # Mostly stale entries: drop them at once rather than popping each. The
                # order in which valid entries come out is the same.
                heap = [
                    e for e in heap
                    if alive_l[e[1]] and alive_l[e[2]]
                    and version[e[1]] == e[3] and version[e[2]] == e[4]
                ]  # fmt: skip
                heapq.heapify(heap)
            c_ij, i, j, vi, vj = heapq.heappop(heap)
            if not (alive_l[i] and alive_l[j]) or version[i] != vi or version[j] != vj:
                continue
            if count <= target and spent + c_ij > free_error:
                break
            spent += c_ij
            # Merge j into i: its pairs (and i's) are replaced by i's new pairs below.
            live -= len(neigh[i]) + len(neigh[j]) - 1
            n_l[i] += n_l[j]
            w_l[i] += w_l[j]
            si, sj = s_l[i], s_l[j]
            s_l[i] = [si[0] + sj[0], si[1] + sj[1], si[2] + sj[2], si[3] + sj[3]]
            wi = w_l[i]
            m_l[i] = [v / wi for v in s_l[i]]
            alive_l[j] = False
            par[j] = i
            version[i] += 1
            neigh[i] |= neigh[j]
            neigh[i].discard(i)
            neigh[i].discard(j)
            for n in neigh[j]:
                neigh[n].discard(j)
                if n != i:
                    neigh[n].add(i)
            neigh[j] = set()
            count -= 1
            vi = version[i]
            live += len(neigh[i])
            for n in neigh[i]:
                heapq.heappush(heap, (cost(i, n), i, n, vi, version[n]))
        parent = np.asarray(par)
    root = parent.copy()
    for _ in range(64):
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    merged = root[labels]
    uniq = np.unique(merged)
    uniq = uniq[uniq > 0]
    remap = np.zeros(k + 1, dtype=np.int32)
    remap[uniq] = np.arange(1, len(uniq) + 1, dtype=np.int32)
    return remap[merged]


def _drop_excess_islands(labels: np.ndarray, sizes: np.ndarray, target: int) -> np.ndarray:
    """Turn the smallest regions into void when merging cannot reach the target."""
    k = len(sizes) - 1
    if k <= target:
        return labels
    order = np.argsort(sizes[1:])[: k - target] + 1
    drop = np.zeros(k + 1, dtype=bool)
    drop[order] = True
    out = labels.copy()
    out[drop[labels]] = 0
    uniq = np.unique(out[out > 0])
    remap = np.zeros(k + 1, dtype=np.int32)
    remap[uniq] = np.arange(1, len(uniq) + 1, dtype=np.int32)
    return remap[out]


def superpixels(rgba: np.ndarray, num_segments: int, preset: Preset) -> np.ndarray:
    """SLIC superpixels of ``rgba`` ((H, W, 4) uint8): ``(H, W)`` int32 labels 1..K, 0 for
    transparent pixels (alpha below :data:`VOID_ALPHA`)."""
    feats = rgba.astype(np.float64) / 255.0
    opaque = rgba[..., 3] >= VOID_ALPHA
    n_opaque = int(opaque.sum())
    n_segments = max(1, min(n_opaque, num_segments))
    if n_segments <= 1:
        return opaque.astype(np.int32)
    lab = rgb2lab(feats[..., :3])
    # Alpha joins the colour so that soft edges of transparent art split cleanly.
    img = np.concatenate([lab, feats[..., 3:] * 100.0], axis=2)
    labels = slic(
        img,
        n_segments=n_segments,
        compactness=preset.compactness,
        sigma=preset.sigma,
        start_label=1,
        # No SLIC mask: its masked seeding is far slower; transparency is a channel
        # here, so superpixels do not straddle it, and void is cut out below.
        channel_axis=-1,
        convert2lab=False,
        enforce_connectivity=True,
        max_num_iter=10,
    ).astype(np.int32)
    labels = labels - labels.min() + 1
    labels[~opaque] = 0
    return _compact_labels(labels)


def _compact_labels(labels: np.ndarray) -> np.ndarray:
    """Renumber the labels > 0 to 1..K (keeping 0)."""
    uniq = np.unique(labels)
    uniq = uniq[uniq > 0]
    remap = np.zeros(int(labels.max()) + 1, dtype=np.int32)
    remap[uniq] = np.arange(1, len(uniq) + 1, dtype=np.int32)
    return remap[labels]


def premultiplied(rgba: np.ndarray) -> np.ndarray:
    """``(H, W, 4)`` uint8 straight RGBA -> float premultiplied RGBA in [0, 1]."""
    feats = rgba.astype(np.float64) / 255.0
    feats[..., :3] *= feats[..., 3:4]
    return feats


def segment(
    rgba: np.ndarray,
    num_superpixels: int,
    max_regions: int,
    preset: Preset,
    *,
    free_error: float = 0.0,
) -> Segmentation:
    """Connected regions of ``rgba`` ((H, W, 4) uint8), at most ``max_regions`` of them.

    SLIC makes about ``num_superpixels`` superpixels; adjacent ones are merged (Ward's
    criterion on premultiplied colour) down to ``max_regions``, and further while the summed
    squared colour error of the merges stays within ``free_error``."""
    stat = premultiplied(rgba)
    labels = superpixels(rgba, num_superpixels, preset)
    if not labels.any():
        return Segmentation(labels, np.zeros((1, 4)), np.zeros(1))
    weights = edge_weights(stat)
    labels = merge_regions(
        labels, stat, max(1, max_regions), free_error=free_error, weights=weights
    )
    labels = absorb_slivers(labels, stat, weights)
    labels = snap_boundaries(labels, stat, weights)
    if int(labels.max()) > max_regions:
        # Snapping can split a region in two: merge back down to the budget.
        labels = merge_regions(labels, stat, max(1, max_regions), weights=weights)
    k = int(labels.max())
    sizes, _, _ = _region_stats(labels, stat, k)
    if k > max_regions:
        # Islands between transparent pixels cannot merge with anything.
        labels = _drop_excess_islands(labels, sizes, max_regions)
    return region_colors(labels, stat, weights)


def region_colors(
    labels: np.ndarray, stat: np.ndarray, weights: np.ndarray | None = None
) -> Segmentation:
    """Mean straight RGBA (``weights``-weighted) and pixel count of every region of
    ``labels`` (``stat``: premultiplied RGBA)."""
    k = int(labels.max())
    sizes, sums, wsums = _region_stats(labels, stat, k, weights)
    colors = sums / np.maximum(wsums, 1e-9)[:, None]
    a = colors[:, 3:4]
    colors[:, :3] = np.where(a > 1e-6, colors[:, :3] / np.maximum(a, 1e-6), 0.0)
    colors = np.clip(colors, 0.0, 1.0)
    return Segmentation(labels, colors, sizes)


#: A region is an anti-aliasing sliver when a one-pixel erosion removes this share of it
#: and its colour is a blend of two neighbours' (within this distance, premultiplied RGBA).
SLIVER_EDGE_SHARE = 0.8
SLIVER_BLEND_DISTANCE = 0.08
#: Thin regions smaller than this (pixels) that blend no two neighbours are folded into
#: the neighbour closest in colour (specks along edges; real lines are longer).
SLIVER_MAX_STRAY = 48


def absorb_slivers(
    labels: np.ndarray, stat: np.ndarray, weights: np.ndarray | None = None
) -> np.ndarray:
    """Give the pixels of thin regions whose colour blends two neighbours' to the closer
    of the two (in colour), pixel by pixel.

    Anti-aliased edges leave one- or two-pixel bands of in-between colour that would
    otherwise become shapes of their own; the outlines' sub-pixel positions read the same
    blend from the image (coarse.analytic), so nothing is lost by folding them in."""
    k = int(labels.max())
    if k < 3:
        return labels
    seg = region_colors(labels, stat, weights)
    pm = seg.colors.copy()
    pm[:, :3] *= pm[:, 3:4]
    inner = ndimage.grey_erosion(labels, footprint=_CROSS)
    outer = ndimage.grey_dilation(labels, footprint=_CROSS)
    interior = (inner == labels) & (outer == labels)
    interior_count = np.bincount(labels[interior].ravel(), minlength=k + 1)
    thin = interior_count < (1.0 - SLIVER_EDGE_SHARE) * seg.sizes
    thin[0] = False
    if not thin[1:].any():
        return labels
    pairs = _adjacency(labels)
    neigh: dict[int, set[int]] = {}
    for i, j in pairs.tolist():
        neigh.setdefault(i, set()).add(j)
        neigh.setdefault(j, set()).add(i)
    # Transparency is a neighbour too (premultiplied colour 0): edges against it blend.
    pm[0] = 0.0
    near_void = np.bincount(
        labels[ndimage.binary_dilation(labels == 0, structure=_CROSS) & (labels > 0)],
        minlength=k + 1,
    )
    # For every thin region: is its colour on a segment between two of its neighbours?
    blend_pair: dict[int, tuple[int, int]] = {}
    for r in np.flatnonzero(thin).tolist():
        cand = sorted(n for n in neigh.get(r, ()) if not thin[n])
        if near_void[r]:
            cand = [0, *cand]
        best: tuple[float, tuple[int, int] | None] = (SLIVER_BLEND_DISTANCE, None)
        for ai, a in enumerate(cand):
            for b in cand[ai + 1 :]:
                d = pm[b] - pm[a]
                t = float(np.clip(np.dot(pm[r] - pm[a], d) / max(np.dot(d, d), 1e-12), 0, 1))
                dist = float(np.linalg.norm(pm[a] + t * d - pm[r]))
                if dist < best[0]:
                    best = (dist, (a, b))
        if best[1] is not None:
            blend_pair[r] = best[1]
        elif seg.sizes[r] < SLIVER_MAX_STRAY and cand:
            # A small thin region of no clear blend: give it to its closest neighbour.
            closest = min(cand, key=lambda n: float(((pm[n] - pm[r]) ** 2).sum()))
            blend_pair[r] = (closest, closest)
    if not blend_pair:
        return labels
    out = labels.copy()
    flat = labels.ravel()
    for r, (a, b) in blend_pair.items():
        idx = np.flatnonzero(flat == r)
        px = stat.reshape(-1, 4)[idx]
        da = ((px - pm[a]) ** 2).sum(1)
        db = ((px - pm[b]) ** 2).sum(1)
        out.ravel()[idx] = np.where(da <= db, a, b)
    return _compact_labels(out)


def snap_boundaries(
    labels: np.ndarray, stat: np.ndarray, weights: np.ndarray | None = None, passes: int = 2
) -> np.ndarray:
    """Move boundary pixels to the neighbouring region whose colour they are closest to.

    Superpixel edges sit within a pixel or two of the real edge; this puts every
    anti-aliased pixel on the side that covers more of it, which is what the sub-pixel
    edge positions (coarse.analytic) assume."""
    out = labels.copy()
    h, w = labels.shape
    for _ in range(passes):
        seg = region_colors(out, stat, weights)
        pm = seg.colors.copy()
        pm[:, :3] *= pm[:, 3:4]
        best = out.copy()
        best_d = ((stat - pm[out]) ** 2).sum(-1)
        for dy, dx in ((0, 1), (0, -1), (1, 0), (-1, 0)):
            nb = np.zeros_like(out)
            ys = slice(max(dy, 0), h + min(dy, 0))
            yd = slice(max(-dy, 0), h + min(-dy, 0))
            xs = slice(max(dx, 0), w + min(dx, 0))
            xd = slice(max(-dx, 0), w + min(-dx, 0))
            nb[yd, xd] = out[ys, xs]
            d = ((stat - pm[nb]) ** 2).sum(-1)
            better = (nb > 0) & (out > 0) & (d < best_d)
            best = np.where(better, nb, best)
            best_d = np.where(better, d, best_d)
        if np.array_equal(best, out):
            break
        out = best
    # A region may have split or vanished: keep labels compact and regions connected.
    return _connected(out)


def _connected(labels: np.ndarray) -> np.ndarray:
    """Relabel so that every region is one 4-connected component (0 stays 0)."""
    out = np.zeros_like(labels)
    nxt = 1
    for reg, box in enumerate(ndimage.find_objects(labels), start=1):
        if box is None:
            continue
        comp, n = ndimage.label(labels[box] == reg, structure=_CROSS)
        view = out[box]
        view[comp > 0] = comp[comp > 0] + nxt - 1
        nxt += n
    return out


def void_holes(labels: np.ndarray) -> int:
    """Transparent areas enclosed by drawn pixels: each costs a hole outline."""
    void = labels == 0
    if not void.any():
        return 0
    comp, n = ndimage.label(void)
    border = np.unique(np.concatenate([comp[0], comp[-1], comp[:, 0], comp[:, -1]]))
    return int(n - np.count_nonzero(border > 0))


def quantize(
    seg: Segmentation, max_colors: int, seed: int, stat: np.ndarray, weights: np.ndarray | None
) -> Segmentation:
    """Give every region one of at most ``max_colors`` colours (weighted k-means on
    premultiplied colour), then merge neighbours that got the same colour.

    Returns the merged segmentation; its ``palette`` maps each region to its colour index
    and ``colors`` are the palette colours of the regions."""
    k = seg.num_regions
    if k == 0:
        return seg
    x = seg.colors[1:].copy()
    x[:, :3] *= x[:, 3:4]
    assign, _ = _weighted_kmeans(
        x, seg.sizes[1:], max_colors, np.random.default_rng(seed), min_mse=MIN_COLOR_MSE
    )
    labels = seg.labels
    # Union neighbours of equal colour (connected components of the colour map).
    pairs = _adjacency(labels)
    same = assign[pairs[:, 0] - 1] == assign[pairs[:, 1] - 1]
    parent = np.arange(k + 1)

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = int(parent[i])
        return i

    for i, j in pairs[same].tolist():
        ri, rj = find(i), find(j)
        if ri != rj:
            parent[max(ri, rj)] = min(ri, rj)
    roots = np.array([find(i) for i in range(k + 1)])
    merged = _compact_labels(roots[labels])
    out = region_colors(merged, stat, weights)
    # Palette index of each merged region (every old region in it shares one colour).
    pal = np.full(out.num_regions + 1, -1, dtype=np.int64)
    pal[merged[labels > 0]] = assign[labels[labels > 0] - 1]
    out.palette = pal
    # Regions of one palette entry share its colour exactly (size-weighted mean).
    n_pal = int(assign.max()) + 1
    pm = out.colors[1:].copy()
    pm[:, :3] *= pm[:, 3:4]
    w = out.sizes[1:]
    tot = np.bincount(pal[1:], weights=w, minlength=n_pal)
    cols = (
        np.stack([np.bincount(pal[1:], weights=w * pm[:, c], minlength=n_pal) for c in range(4)], 1)
        / np.maximum(tot, 1e-9)[:, None]
    )
    cols[:, :3] /= np.maximum(cols[:, 3:4], 1e-9)
    out.colors[1:] = np.clip(cols[pal[1:]], 0.0, 1.0)
    return out


# Colours stop being added once the weighted mean squared distance of the regions'
# colours to their nearest centre is below this (RGBA in [0, 1]; about 3/255 RMS): what
# is left are anti-aliasing shades and noise, which cost a path each and barely show.
MIN_COLOR_MSE = 1.5e-4


def _weighted_kmeans(
    x: np.ndarray,
    w: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    iters: int = 12,
    min_mse: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted k-means (k-means++ seeding): returns (assignment, centres).

    Seeding stops early once the weighted mean squared distance to the nearest centre is
    at most ``min_mse`` (fewer than ``k`` centres).
    """
    n = len(x)
    if n <= k:
        return np.arange(n), x.copy()
    # k-means++ seeding; sampling by inverse CDF is much cheaper than rng.choice(p=...).
    cdf = np.cumsum(w)
    first = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    centres = [x[min(first, n - 1)]]
    d2 = ((x - centres[0]) ** 2).sum(1)
    wtot = float(w.sum())
    for _ in range(1, k):
        cdf = np.cumsum(w * d2)
        tot = cdf[-1]
        if tot <= 1e-12 or tot <= min_mse * wtot:
            break
        i = min(int(np.searchsorted(cdf, rng.random() * tot, side="right")), n - 1)
        centres.append(x[i])
        np.minimum(d2, ((x - x[i]) ** 2).sum(1), out=d2)
    c = np.array(centres)
    assign = np.zeros(n, dtype=np.int64)
    for step in range(iters):
        new, _dist = vq(x, c, check_finite=False)
        if step > 0 and np.array_equal(new, assign):
            break
        assign = new
        wsum = np.bincount(assign, weights=w, minlength=len(c))
        for ch in range(x.shape[1]):
            tot_c = np.bincount(assign, weights=w * x[:, ch], minlength=len(c))
            c[:, ch] = np.where(wsum > 0, tot_c / np.maximum(wsum, 1e-12), c[:, ch])
    used = np.unique(assign)
    remap = np.full(len(c), -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    return remap[assign], c[used]
