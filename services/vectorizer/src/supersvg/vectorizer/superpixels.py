"""Superpixels (SLIC) sized from the path budget, then a colour merge down to the budget.

SLIC over-segments the image; adjacent superpixels are then merged greedily by Ward's
criterion (the increase in squared colour error a merge causes), so flat areas become one
region and detailed areas keep small ones. Every region is connected; transparent pixels
get label 0 and are never drawn.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import vq
from skimage.color import rgb2lab
from skimage.segmentation import slic

from .config import Preset

__all__ = ["Segmentation", "merge_regions", "segment"]

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

    @property
    def num_regions(self) -> int:
        return len(self.sizes) - 1


def _region_stats(labels: np.ndarray, feats: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    flat = labels.ravel()
    sizes = np.bincount(flat, minlength=k + 1).astype(np.float64)
    sums = np.stack(
        [np.bincount(flat, weights=feats[..., c].ravel(), minlength=k + 1) for c in range(4)],
        axis=1,
    )
    return sizes, sums


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


def merge_regions(labels: np.ndarray, feats: np.ndarray, target: int) -> np.ndarray:
    """Merge adjacent regions (Ward's criterion on ``feats``) until at most ``target`` remain.

    ``feats`` is ``(H, W, 4)`` float; label 0 is left untouched. Returns relabelled 1..K.
    """
    k = int(labels.max())
    sizes, sums = _region_stats(labels, feats, k)
    alive = sizes > 0
    alive[0] = False
    count = int(alive.sum())
    parent = np.arange(k + 1)
    if count > target:
        # Plain Python floats: the heap loop touches tiny vectors, where numpy is slow.
        n_l: list[float] = sizes.tolist()
        s_l: list[list[float]] = sums.tolist()
        neigh: list[set[int]] = [set() for _ in range(k + 1)]
        pairs = _adjacency(labels)
        for i, j in pairs.tolist():
            neigh[i].add(j)
            neigh[j].add(i)
        version = [0] * (k + 1)
        alive_l: list[bool] = alive.tolist()
        par: list[int] = parent.tolist()

        def cost(i: int, j: int) -> float:
            ni, nj = n_l[i], n_l[j]
            si, sj = s_l[i], s_l[j]
            d0 = si[0] / ni - sj[0] / nj
            d1 = si[1] / ni - sj[1] / nj
            d2 = si[2] / ni - sj[2] / nj
            d3 = si[3] / ni - sj[3] / nj
            return ni * nj / (ni + nj) * (d0 * d0 + d1 * d1 + d2 * d2 + d3 * d3)

        heap = [(cost(i, j), i, j, 0, 0) for i, j in pairs.tolist()]
        heapq.heapify(heap)
        while count > target and heap:
            _, i, j, vi, vj = heapq.heappop(heap)
            if not (alive_l[i] and alive_l[j]) or version[i] != vi or version[j] != vj:
                continue
            # Merge j into i.
            n_l[i] += n_l[j]
            si, sj = s_l[i], s_l[j]
            s_l[i] = [si[0] + sj[0], si[1] + sj[1], si[2] + sj[2], si[3] + sj[3]]
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


def segment(
    rgba: np.ndarray,
    num_regions: int,
    preset: Preset,
    *,
    oversegment: float = 2.0,
    merge: bool = True,
) -> Segmentation:
    """Segment ``rgba`` ((H, W, 4) uint8) into connected regions.

    SLIC makes about ``num_regions * oversegment`` superpixels; with ``merge`` similar
    neighbours are then merged until at most ``num_regions`` remain."""
    h, w = rgba.shape[:2]
    feats = rgba.astype(np.float64) / 255.0
    alpha = feats[..., 3]
    opaque = rgba[..., 3] >= VOID_ALPHA
    # Colours of nearly transparent pixels are meaningless; premultiply for the statistics.
    stat = feats.copy()
    stat[..., :3] *= alpha[..., None]
    n_opaque = int(opaque.sum())
    if n_opaque == 0:
        labels = np.zeros((h, w), dtype=np.int32)
        return Segmentation(labels, np.zeros((1, 4)), np.zeros(1))
    n_segments = max(1, min(n_opaque, round(num_regions * oversegment)))
    if n_segments <= 1 or num_regions <= 1:
        labels = opaque.astype(np.int32)
    else:
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
    if merge:
        labels = merge_regions(labels, stat, num_regions)
    else:
        # Keep every superpixel (SLIC may return a few more than asked); make ids 1..K.
        uniq, inv = np.unique(labels, return_inverse=True)
        labels = (inv.reshape(labels.shape) + (0 if uniq[0] == 0 else 1)).astype(np.int32)
    k = int(labels.max())
    sizes, sums = _region_stats(labels, stat, k)
    if merge and k > num_regions:
        labels = _drop_excess_islands(labels, sizes, num_regions)
        k = int(labels.max())
        sizes, sums = _region_stats(labels, stat, k)
    safe = np.maximum(sizes, 1.0)
    colors = sums / safe[:, None]
    a = colors[:, 3:4]
    colors[:, :3] = np.where(a > 1e-6, colors[:, :3] / np.maximum(a, 1e-6), 0.0)
    colors = np.clip(colors, 0.0, 1.0)
    return Segmentation(labels, colors, sizes)


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


def group_regions(seg: Segmentation, num_groups: int, seed: int) -> np.ndarray:
    """Cluster regions by colour into at most ``num_groups`` groups (one SVG path each).

    Returns ``group`` of length K+1 with ``group[0] = -1`` (void) and ``0 <= group[k]``.
    Regions of one group become subpaths of one compound path, so the path budget buys
    colours, while superpixels set the geometric detail.
    """
    k = seg.num_regions
    group = np.full(k + 1, -1, dtype=np.int64)
    if k == 0:
        return group
    x = seg.colors[1:].copy()
    # Premultiplied colour: transparent-ish regions cluster by what they show.
    x[:, :3] *= x[:, 3:4]
    assign, _ = _weighted_kmeans(
        x, seg.sizes[1:], num_groups, np.random.default_rng(seed), min_mse=MIN_COLOR_MSE
    )
    group[1:] = assign
    return group
