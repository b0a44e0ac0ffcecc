"""Refinement: optimise path points and colours through the differentiable renderer.

One job, in one module on purpose: the scene parameters (points, colours, gradient stops),
their pydiffvg scenes and the optimiser that moves them.

Adam on the mean squared error between ``pydiffvg.render`` of the scene and the input at
the refinement resolution. The background rectangle keeps its geometry (it must cover
the canvas) but its colour is optimised.

Cost: the renderer touches, for every shape group, the pixels of its bounding box. A
coarse path is one colour's compound path whose loops are spread over the whole image,
so it is rendered as one group per *region* (an outer loop with the holes inside it),
all sharing the path's colour: each group's box is then the region's box, and the work
per step follows the regions' areas rather than image area times path count. Regions of
one path do not overlap, so this is the same picture. All polygon vertices live in one
tensor, so building the scene each step is a few tensor operations.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
from PIL import Image

from .config import Preset, VectorizeConfig
from .shapes import VPath, polygon_area
from .svg import straight_segments

__all__ = ["RendererUnavailable", "refine_paths", "region_groups", "renderer_available"]


#: Refinement stops once the best loss fell by less than ``CONVERGED`` (relative) over
#: the last ``CONVERGENCE_WINDOW`` steps. A loss-based rule gives the same steps on a busy
#: or a quiet machine, unlike a wall-clock budget.
CONVERGED = 2e-3
CONVERGENCE_WINDOW = 10


class RendererUnavailable(RuntimeError):
    """``pydiffvg`` is not importable (or lacks ``render``)."""


def renderer_available() -> bool:
    try:
        import pydiffvg
    except ImportError:
        return False
    return callable(getattr(pydiffvg, "render", None))


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _target(rgba: np.ndarray, size: int, device: torch.device) -> torch.Tensor:
    h, w = rgba.shape[:2]
    f = min(1.0, size / max(h, w))
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    img = Image.fromarray(rgba, mode="RGBA")
    if (nw, nh) != (w, h):
        img = img.resize((nw, nh), Image.Resampling.BOX)
    arr = np.asarray(img, dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy()).to(device)


def _premultiplied(img: torch.Tensor) -> torch.Tensor:
    a = img[..., 3:4]
    return torch.cat([img[..., :3] * a, a], dim=-1)


def _inside(pt: np.ndarray, poly: np.ndarray) -> bool:
    """Even-odd point-in-polygon test (ray along +x)."""
    x, y = float(pt[0]), float(pt[1])
    xa, ya = poly[:, 0], poly[:, 1]
    xb, yb = np.roll(xa, -1), np.roll(ya, -1)
    crosses = (ya > y) != (yb > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        xi = xa + (y - ya) * (xb - xa) / (yb - ya)
    return bool(np.count_nonzero(crosses & (xi > x)) % 2)


def region_groups(subpaths: list[np.ndarray]) -> list[list[int]]:
    """Split a compound path's loops into regions: an outer loop and the holes inside it.

    Outer loops turn the way the largest loop turns, holes the other way. Each hole joins
    the smallest outer loop that contains it. If any hole finds no outer loop (or the
    loops do not follow that convention) the whole path stays one region, which is
    always exact.
    """
    n = len(subpaths)
    if n <= 1:
        return [list(range(n))]
    polys = [s[0::3] for s in subpaths]
    areas = np.array([polygon_area(p) for p in polys])
    sign = np.sign(areas[int(np.argmax(np.abs(areas)))])
    if sign == 0:
        return [list(range(n))]
    outer = [i for i in range(n) if np.sign(areas[i]) == sign]
    holes = [i for i in range(n) if np.sign(areas[i]) != sign]
    if not holes:
        return [[i] for i in outer]
    lo = np.array([p.min(axis=0) for p in polys])
    hi = np.array([p.max(axis=0) for p in polys])
    members: dict[int, list[int]] = {i: [i] for i in outer}
    outer_arr = np.array(outer)
    by_size = outer_arr[np.argsort(np.abs(areas[outer_arr]))]
    for h in holes:
        pt = polys[h][0]
        cand = by_size[
            (lo[by_size, 0] <= lo[h, 0])
            & (lo[by_size, 1] <= lo[h, 1])
            & (hi[by_size, 0] >= hi[h, 0])
            & (hi[by_size, 1] >= hi[h, 1])
        ]
        owner = next((int(o) for o in cand if o != h and _inside(pt, polys[o])), None)
        if owner is None:
            return [list(range(n))]
        members[owner].append(h)
    return [members[i] for i in outer]


def palette_index(paths: list[VPath]) -> tuple[np.ndarray, np.ndarray]:
    """Colour parameter of every path and the initial colours ``[C, 4]``.

    Paths quantized to a palette (``meta["palette"]``) share one colour parameter per
    palette entry, so refinement keeps the number of distinct fills; otherwise every path
    has its own."""
    if paths and all("palette" in p.meta for p in paths):
        keys = [int(p.meta["palette"]) for p in paths]
        uniq, index = np.unique(keys, return_inverse=True)
        first = [keys.index(int(u)) for u in uniq]
        cols = np.stack([np.asarray(paths[i].color, dtype=np.float32) for i in first])
        return index.astype(np.int64), cols
    cols = np.stack([np.asarray(p.color, dtype=np.float32) for p in paths])
    return np.arange(len(paths), dtype=np.int64), cols


#: Gradient fill parameters of a path: begin, end (working pixels, fixed) and the stop
#: colours ``[2, 4]`` (refined).
_GradientParams = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _gradient_params(
    paths: list[VPath], to_work: np.ndarray, device: torch.device
) -> dict[int, _GradientParams]:
    """The gradient fill parameters of every path that has one, by path index."""
    out: dict[int, _GradientParams] = {}
    for i, p in enumerate(paths):
        if p.gradient is not None:
            g = p.gradient
            stops = torch.tensor(g.stops, dtype=torch.float32, device=device)
            out[i] = (
                torch.tensor(g.begin * to_work, dtype=torch.float32, device=device),
                torch.tensor(g.end * to_work, dtype=torch.float32, device=device),
                stops.requires_grad_(True),
            )
    return out


class _Scene:
    """Differentiable parameters of the scene and how to build pydiffvg shapes from them."""

    def __init__(self, paths: list[VPath], to_work: np.ndarray, device: torch.device) -> None:
        self.device = device
        self.to_work = to_work
        verts: list[np.ndarray] = []
        # Per loop: ("poly", start, count) | ("curve", index) | ("const", tensor).
        self.loops: list[list[tuple[str, Any]]] = []
        self.curves: list[torch.Tensor] = []
        index, cols = palette_index(paths)
        #: One parameter per distinct colour; ``colors[i]`` is path i's (shared) tensor.
        self.color_params = [torch.tensor(c, device=device).requires_grad_(True) for c in cols]
        self.colors: list[torch.Tensor] = [self.color_params[i] for i in index.tolist()]
        self.gradients = _gradient_params(paths, to_work, device)
        self.color_params += [stops for _, _, stops in self.gradients.values()]
        offset = 0
        for p in paths:
            spec: list[tuple[str, Any]] = []
            for sub in p.subpaths:
                pts = np.asarray(sub, dtype=np.float64) * to_work
                if p.is_background:
                    t = torch.tensor(pts, dtype=torch.float32, device=device)
                    spec.append(("const", t))
                elif straight_segments(sub).all():
                    # Polygon: optimise the vertices only, so edges stay straight lines
                    # (short `l` commands in the SVG) instead of turning into curves.
                    v = pts[0::3]
                    verts.append(v)
                    spec.append(("poly", (offset, len(v))))
                    offset += len(v)
                else:
                    t = torch.tensor(pts, dtype=torch.float32, device=device)
                    self.curves.append(t.requires_grad_(True))
                    spec.append(("curve", len(self.curves) - 1))
            self.loops.append(spec)
        cat = np.concatenate(verts) if verts else np.zeros((0, 2))
        self.verts = torch.tensor(cat, dtype=torch.float32, device=device).requires_grad_(True)
        # Index of each vertex's successor within its own loop.
        nxt = np.arange(offset) + 1
        for spec in self.loops:
            for kind, val in spec:
                if kind == "poly":
                    start, count = val
                    nxt[start + count - 1] = start
        self.next_idx = torch.tensor(nxt, dtype=torch.long, device=device)
        self.poly_sizes = [
            val[1] * 3 for spec in self.loops for kind, val in spec if kind == "poly"
        ]

    def point_params(self) -> list[torch.Tensor]:
        return ([self.verts] if self.verts.shape[0] else []) + self.curves

    def loop_points(self) -> list[list[torch.Tensor]]:
        """Cubic control points ``(3N, 2)`` of every loop, per path."""
        v = self.verts
        d = v[self.next_idx] - v
        cubic = torch.stack([v, v + d / 3.0, v + 2.0 * d / 3.0], dim=1).reshape(-1, 2)
        polys = iter(torch.split(cubic, self.poly_sizes)) if self.poly_sizes else iter(())
        out: list[list[torch.Tensor]] = []
        for spec in self.loops:
            row: list[torch.Tensor] = []
            for kind, val in spec:
                if kind == "poly":
                    row.append(next(polys))
                elif kind == "curve":
                    row.append(self.curves[val])
                else:
                    row.append(val)
            out.append(row)
        return out

    def pydiffvg_scene(self, pydiffvg: Any, paths: list[VPath]) -> tuple[list[Any], list[Any]]:
        """One pydiffvg Path per loop; one group per region, sharing its path's colour."""
        shapes: list[Any] = []
        groups: list[Any] = []
        zero = torch.tensor(0.0)
        offsets = torch.tensor([0.0, 1.0], device=self.device)
        for i, (p, row, color) in enumerate(
            zip(paths, self.loop_points(), self.colors, strict=True)
        ):
            fill: Any = color
            if i in self.gradients:
                begin, end, stops = self.gradients[i]
                fill = pydiffvg.LinearGradient(begin, end, offsets, stops)
            base = len(shapes)
            for pts in row:
                shapes.append(
                    pydiffvg.Path(
                        num_control_points=torch.full((pts.shape[0] // 3,), 2, dtype=torch.int32),
                        points=pts,
                        is_closed=True,
                        stroke_width=zero,
                    )
                )
            for region in region_groups(p.subpaths):
                groups.append(
                    pydiffvg.ShapeGroup(
                        shape_ids=torch.tensor([base + k for k in region], dtype=torch.int32),
                        fill_color=fill,
                        use_even_odd_rule=False,
                    )
                )
        return shapes, groups

    def after_backward(self) -> None:
        """Nothing to mask: the background is built from constants."""

    def snapshot(self) -> tuple[list[list[np.ndarray]], list[np.ndarray]]:
        with torch.no_grad():
            scale = self.to_work
            pts = [
                [t.cpu().numpy().astype(np.float64) / scale for t in row]
                for row in self.loop_points()
            ]
            cols = [
                (self.gradients[i][2] if i in self.gradients else c)
                .clamp(0.0, 1.0)
                .cpu()
                .numpy()
                .astype(np.float64)
                for i, c in enumerate(self.colors)
            ]
        return pts, cols

    def write_back(
        self, paths: list[VPath], state: tuple[list[list[np.ndarray]], list[np.ndarray]]
    ) -> None:
        pts, cols = state
        for p, new_subs, new_color in zip(paths, pts, cols, strict=True):
            if not p.is_background:
                p.subpaths = new_subs
            if p.gradient is not None:
                p.gradient.stops = new_color
            else:
                p.color = new_color


class _PolygonScene:
    """All-polygon scene: one vertex table rendered by ``pydiffvg.render_polygons``.

    Loops are stored region by region (each region one group, in painter's order); the
    per-path colours are one ``[P, 4]`` tensor gathered per group; gradient-filled paths
    pass their gradient for each of their groups.
    """

    def __init__(self, paths: list[VPath], to_work: np.ndarray, device: torch.device) -> None:
        self.to_work = to_work
        verts: list[np.ndarray] = []
        sizes: list[int] = []
        loop_group: list[int] = []
        group_path: list[int] = []
        fixed: list[bool] = []
        # (path, subpath) -> (start row, count), to write the result back in path order.
        self.where: list[list[tuple[int, int]]] = [[(0, 0)] * len(p.subpaths) for p in paths]
        offset = 0
        for pi, p in enumerate(paths):
            for region in region_groups(p.subpaths):
                gi = len(group_path)
                group_path.append(pi)
                for li in region:
                    v = np.asarray(p.subpaths[li], dtype=np.float64)[0::3] * to_work
                    verts.append(v)
                    sizes.append(len(v))
                    loop_group.append(gi)
                    fixed.extend([p.is_background] * len(v))
                    self.where[pi][li] = (offset, len(v))
                    offset += len(v)
        self.verts = torch.tensor(
            np.concatenate(verts), dtype=torch.float32, device=device
        ).requires_grad_(True)
        self.fixed = torch.tensor(fixed, dtype=torch.bool, device=device)
        self.sizes = sizes
        self.loop_group = loop_group
        self.group_path = torch.tensor(group_path, dtype=torch.long, device=device)
        index, cols = palette_index(paths)
        #: Colour parameters ``[C, 4]`` (one per palette entry) and each path's row.
        self.colors = torch.tensor(cols, device=device).requires_grad_(True)
        self.path_color = torch.tensor(index, dtype=torch.long, device=device)
        self.gradients = _gradient_params(paths, to_work, device)
        self.gradient_groups = [
            (gi, pi) for gi, pi in enumerate(group_path) if pi in self.gradients
        ]
        self.offsets = torch.tensor([0.0, 1.0], device=device)

    def color_params(self) -> list[torch.Tensor]:
        return [self.colors] + [stops for _, _, stops in self.gradients.values()]

    def render(self, pydiffvg: Any, width: int, height: int) -> torch.Tensor:
        fills = {
            gi: pydiffvg.LinearGradient(
                self.gradients[pi][0], self.gradients[pi][1], self.offsets, self.gradients[pi][2]
            )
            for gi, pi in self.gradient_groups
        }
        return cast(
            torch.Tensor,
            pydiffvg.render_polygons(
                self.verts,
                self.sizes,
                self.loop_group,
                self.colors[self.path_color[self.group_path]],
                width=width,
                height=height,
                gradient_fills=fills,
            ),
        )

    def after_backward(self) -> None:
        # The background keeps its geometry: with a zero gradient Adam never moves it.
        if self.verts.grad is not None:
            self.verts.grad[self.fixed] = 0.0

    def snapshot(self) -> tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]:
        with torch.no_grad():
            return (
                self.verts.detach().cpu().numpy().astype(np.float64) / self.to_work,
                self.colors.detach()[self.path_color]
                .clamp(0.0, 1.0)
                .cpu()
                .numpy()
                .astype(np.float64),
                {
                    i: stops.detach().clamp(0.0, 1.0).cpu().numpy().astype(np.float64)
                    for i, (_, _, stops) in self.gradients.items()
                },
            )

    def write_back(
        self, paths: list[VPath], state: tuple[np.ndarray, np.ndarray, dict[int, np.ndarray]]
    ) -> None:
        verts, cols, stops = state
        for i, (p, where, col) in enumerate(zip(paths, self.where, cols, strict=True)):
            if not p.is_background:
                p.subpaths = [_straight_cubic(verts[s : s + n]) for s, n in where]
            if p.gradient is not None:
                p.gradient.stops = stops[i]
            else:
                p.color = col


def _straight_cubic(v: np.ndarray) -> np.ndarray:
    """Cubic points ``(3N, 2)`` of the closed straight-edged polygon through ``v``."""
    d = np.roll(v, -1, axis=0) - v
    return np.stack([v, v + d / 3.0, v + 2.0 * d / 3.0], axis=1).reshape(-1, 2)


def refine_paths(
    paths: list[VPath],
    rgba: np.ndarray,
    cfg: VectorizeConfig,
    preset: Preset,
    progress: Callable[[float], None] | None = None,
    *,
    deadline: float | None = None,
) -> tuple[list[VPath], int, str]:
    """Optimise ``paths`` (output pixel coordinates) against ``rgba`` for ``cfg.iterations``.

    Stops early once the loss has converged, or when the next step would end after
    ``deadline`` (a ``time.perf_counter()`` value; a safety cap). The iterate with the
    lowest loss is kept (the starting scene included), so the result is never worse than
    the input by this loss. Returns the paths, the number of steps taken and why it
    stopped ("iterations", "converged" or "time cap"). ``progress`` gets the fraction
    done and may raise :class:`Cancelled`.
    """
    try:
        import pydiffvg
    except ImportError as exc:
        raise RendererUnavailable("pydiffvg is not installed") from exc
    if not callable(getattr(pydiffvg, "render", None)):
        raise RendererUnavailable("pydiffvg.render is not available")

    device = _device(cfg.device)
    torch.manual_seed(cfg.seed)
    h, w = rgba.shape[:2]
    target = _target(rgba, cfg.refine_size, device)
    th, tw = target.shape[:2]
    sx, sy = tw / w, th / h
    target_pm = _premultiplied(target)
    to_work = np.array([sx, sy])
    # Straight-edged scenes (flat or gradient fills) take the faster render_polygons();
    # curved outlines need render().
    if all(straight_segments(sub).all() for p in paths for sub in p.subpaths):
        poly = _PolygonScene(paths, to_work, device)
        return _optimise(
            poly,
            paths,
            lambda: poly.render(pydiffvg, tw, th),
            poly.color_params(),
            [poly.verts],
            cfg,
            preset,
            target_pm,
            min(sx, sy),
            progress,
            deadline,
        )
    scene = _Scene(paths, to_work, device)
    shapes, groups = scene.pydiffvg_scene(pydiffvg, paths)

    def draw() -> torch.Tensor:
        k = 0
        for row in scene.loop_points():
            for pts in row:
                shapes[k].points = pts
                k += 1
        return cast(
            torch.Tensor,
            pydiffvg.render(
                shapes, groups, width=tw, height=th, samples=cfg.samples, device=device
            ),
        )

    return _optimise(
        scene,
        paths,
        draw,
        scene.color_params,
        scene.point_params(),
        cfg,
        preset,
        target_pm,
        min(sx, sy),
        progress,
        deadline,
    )


class _Adam:
    """Adam (Kingma and Ba) on groups of ``(tensors, learning rate)``.

    Written out because ``torch.optim`` imports the compiler stack on first use, which
    costs seconds in a fresh process: a large share of a 10 s budget.
    """

    def __init__(
        self,
        groups: list[tuple[list[torch.Tensor], float]],
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
    ) -> None:
        self.groups = [(ts, lr) for ts, lr in groups if ts]
        self.b1, self.b2 = betas
        self.eps = eps
        self.t = 0
        self.m = [[torch.zeros_like(t) for t in ts] for ts, _ in self.groups]
        self.v = [[torch.zeros_like(t) for t in ts] for ts, _ in self.groups]

    def zero_grad(self) -> None:
        for ts, _ in self.groups:
            for t in ts:
                t.grad = None

    @torch.no_grad()
    def step(self) -> None:
        self.t += 1
        c1 = 1.0 - self.b1**self.t
        c2 = 1.0 - self.b2**self.t
        for (ts, lr), ms, vs in zip(self.groups, self.m, self.v, strict=True):
            for t, m, v in zip(ts, ms, vs, strict=True):
                if t.grad is None:
                    continue
                g = t.grad
                m.mul_(self.b1).add_(g, alpha=1.0 - self.b1)
                v.mul_(self.b2).addcmul_(g, g, value=1.0 - self.b2)
                t.addcdiv_(m, (v / c2).sqrt_().add_(self.eps), value=-lr / c1)


def _optimise(  # noqa: PLR0917
    scene: _Scene | _PolygonScene,
    paths: list[VPath],
    draw: Callable[[], torch.Tensor],
    colors: list[torch.Tensor],
    points: list[torch.Tensor],
    cfg: VectorizeConfig,
    preset: Preset,
    target_pm: torch.Tensor,
    px_scale: float,
    progress: Callable[[float], None] | None,
    deadline: float | None,
) -> tuple[list[VPath], int, str]:
    """Adam steps until ``cfg.iterations``, convergence or the deadline; writes back the
    best iterate. Returns the paths, the steps taken and why it stopped."""
    opt = _Adam([(colors, preset.lr_colors), (points, preset.lr_points * px_scale)])
    opaque = bool(target_pm[..., 3].min() > 0.999)
    steps = 0
    best_loss = float("inf")
    best: Any = None
    step_time = 0.0
    history: list[float] = []
    reason = "iterations"
    for it in range(cfg.iterations):
        t_step = time.perf_counter()
        if deadline is not None and t_step + step_time > deadline:
            reason = "time cap"  # possibly before the first step
            break
        if (
            len(history) > CONVERGENCE_WINDOW
            and best_loss > (1.0 - CONVERGED) * history[-CONVERGENCE_WINDOW - 1]
        ):
            reason = "converged"
            break
        if progress is not None and it % 5 == 0:
            progress(it / cfg.iterations)  # may raise Cancelled
        opt.zero_grad()
        img = draw()
        # pydiffvg returns straight alpha; compare premultiplied so that colour under
        # transparency does not count.
        loss = torch.mean((_premultiplied(img) - target_pm) ** 2)
        if not torch.isfinite(loss):
            break
        lv = float(loss.detach())
        history.append(lv)
        if lv < best_loss:
            best_loss = lv
            best = scene.snapshot()
        loss.backward()
        scene.after_backward()
        opt.step()
        with torch.no_grad():
            for c in colors:
                c.clamp_(0.0, 1.0)
                if opaque:
                    c[..., 3] = 1.0  # an opaque input stays opaque
        steps += 1
        # The first step pays one-time costs (allocations, lazy initialisation; in a
        # fresh process often several later steps' worth), so it counts half; later
        # estimates follow the latest step but fall at most by half at a time.
        dt = time.perf_counter() - t_step
        step_time = 0.5 * dt if it == 0 else max(dt, 0.5 * step_time)
    if best is not None:
        scene.write_back(paths, best)
    return paths, steps, reason
