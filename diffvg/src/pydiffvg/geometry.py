"""Turn scene shapes into straight line pieces (differentiable in every coordinate).

Every shape becomes cubic Bezier segments (lines and quadratics are degree-elevated
exactly, circles and ellipses use eight 45-degree arcs), every segment is flattened into
line pieces with a count chosen from its flatness bound, all in a handful of batched
tensor operations over the whole scene.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from pydiffvg.gather import take
from pydiffvg.shape import Circle, Ellipse, Path, Polygon, Rect, Shape, ShapeGroup

__all__ = ["Pieces", "flatten_scene"]

# Row i maps gathered points [g0, g1, g2, g3] to cubic control point i.
_ELEVATE = (
    # line, gathered as [s, s, e, e]
    ((1, 0, 0, 0), (2 / 3, 0, 0, 1 / 3), (1 / 3, 0, 0, 2 / 3), (0, 0, 0, 1)),
    # quadratic, gathered as [s, q, q, e]
    ((1, 0, 0, 0), (1 / 3, 2 / 3, 0, 0), (0, 0, 2 / 3, 1 / 3), (0, 0, 0, 1)),
    # cubic, gathered as [s, c1, c2, e]
    ((1, 0, 0, 0), (0, 1, 0, 0), (0, 0, 1, 0), (0, 0, 0, 1)),
)

# Cubic arc of 45 degrees: control distance factor (4/3) tan(theta/4).
_ARC_K = 4.0 / 3.0 * math.tan(math.pi / 16.0)


def _unit_circle_controls() -> np.ndarray:
    """Control points ``[8, 4, 2]`` of a unit circle, starting at (1, 0), angle increasing
    (clockwise on screen, like SVG's circle)."""
    out = np.zeros((8, 4, 2))
    for i in range(8):
        a0 = i * math.pi / 4
        a1 = (i + 1) * math.pi / 4
        p0 = np.array([math.cos(a0), math.sin(a0)])
        p3 = np.array([math.cos(a1), math.sin(a1)])
        t0 = np.array([-math.sin(a0), math.cos(a0)])
        t1 = np.array([-math.sin(a1), math.cos(a1)])
        out[i] = [p0, p0 + _ARC_K * t0, p3 - _ARC_K * t1, p3]
    return out


_UNIT_CIRCLE = _unit_circle_controls()
_EYE = torch.eye(3, dtype=torch.float64)


@dataclass
class Pieces:
    """Flattened scene: line pieces ``a -> b`` in canvas pixel coordinates.

    ``group`` is the shape-group index of each piece; ``stroke`` marks pieces that belong
    to the outline (implicit closing pieces of open paths are fill-only); ``ha``/``hb``
    are the stroke half widths at the piece's ends.
    """

    a: torch.Tensor
    b: torch.Tensor
    group: torch.Tensor
    stroke: torch.Tensor
    ha: torch.Tensor
    hb: torch.Tensor


class _Builder:
    """Collects the scene's shapes; :meth:`build` turns them into cubic segments in a few
    batched operations (no Python step per segment, one cheap append per shape)."""

    def __init__(self, device: torch.device, dtype: torch.dtype, *, widths: bool) -> None:
        self.device = device
        self.dtype = dtype
        self.with_widths = widths  # False: no group strokes, every half width is 0
        self.points: list[torch.Tensor] = []  # [P_i, 2] point table of each path
        self.widths: list[torch.Tensor] = []  # [P_i] half width at each point
        # [S_i] 0 line, 1 quadratic, 2 cubic, on the CPU; one array for all paths at build.
        self.ncp: list[torch.Tensor] = []
        self.closed: list[bool] = []
        self.path_group: list[int] = []
        self.direct_ctrl: list[torch.Tensor] = []  # [S_i, 4, 2] already-cubic control points
        self.direct_width: list[torch.Tensor] = []  # [S_i, 2]
        self.direct_group: list[np.ndarray] = []

    def _cast(self, t: torch.Tensor) -> torch.Tensor:
        if t.device == self.device and t.dtype == self.dtype:
            return t
        return t.to(device=self.device, dtype=self.dtype)

    def _widths(self, stroke_width: torch.Tensor, count: int) -> torch.Tensor:
        w = self._cast(stroke_width)
        if w.numel() == 1:
            return w.reshape(1).expand(count)
        if w.shape != (count,):
            raise ValueError(
                f"per-point stroke_width must have shape [{count}], got {tuple(w.shape)}"
            )
        return w

    def add_path(
        self, ncp: torch.Tensor, points: torch.Tensor, closed: bool, width: torch.Tensor, group: int
    ) -> None:
        num_pts = points.shape[0]
        if ncp.shape[0] == 0 or num_pts < 2:
            return
        self.points.append(self._cast(points))
        if self.with_widths:
            self.widths.append(self._widths(width, num_pts))
        self.ncp.append(ncp if ncp.device.type == "cpu" else ncp.cpu())
        self.closed.append(closed)
        self.path_group.append(group)

    def add_direct(self, ctrl: torch.Tensor, width: torch.Tensor, group: int) -> None:
        w = self._cast(width).reshape(-1)[:1]
        self.direct_ctrl.append(self._cast(ctrl))
        self.direct_width.append(w.expand(ctrl.shape[0], 2))
        self.direct_group.append(np.full(ctrl.shape[0], group))

    def _path_segments(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Gather indices [S, 4] into the concatenated point table, kinds, groups and
        stroke mask of every path segment, plus one closing line per open path (fill
        closes open sub-paths implicitly, as SVG does; the stroke does not)."""
        ncp = torch.cat(self.ncp).numpy().astype(np.int64)
        nseg = np.array([c.shape[0] for c in self.ncp])
        npts = np.array([p.shape[0] for p in self.points])
        closed = np.array(self.closed)
        group = np.array(self.path_group, dtype=np.int64)
        path = np.repeat(np.arange(nseg.shape[0]), nseg)
        base = np.cumsum(npts) - npts  # first point of each path in the table
        # Segment i of a path starts after the points of its predecessors (one end point
        # plus its control points each).
        step = ncp + 1
        before = np.cumsum(step) - step
        first_seg = np.cumsum(nseg) - nseg
        starts = before - before[first_seg][path]
        ends = starts + step
        ends = np.where(closed[path], ends % npts[path], ends)
        c1 = np.where(ncp >= 1, starts + 1, starts)
        c2 = np.where(ncp == 2, starts + 2, np.where(ncp == 1, starts + 1, ends))
        idx = np.stack([starts, c1, c2, ends], axis=1) + base[path][:, None]
        kind, seg_path, stroke = ncp, path, np.ones(ncp.shape[0], dtype=bool)
        open_paths = np.flatnonzero(~closed)
        if open_paths.size:
            last = idx[first_seg[open_paths] + nseg[open_paths] - 1, 3]
            first = base[open_paths]
            closing = np.stack([last, last, first, first], axis=1)
            idx = np.concatenate([idx, closing])
            kind = np.concatenate([kind, np.zeros(open_paths.size, dtype=np.int64)])
            seg_path = np.concatenate([seg_path, open_paths])
            stroke = np.concatenate([stroke, np.zeros(open_paths.size, dtype=bool)])
            # Each closing line right after its own path's segments.
            order = np.argsort(seg_path, kind="stable")
            idx, kind, seg_path, stroke = idx[order], kind[order], seg_path[order], stroke[order]
        return idx, kind, group[seg_path], stroke

    def build(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return control points [S, 4, 2], kinds [S], groups [S], stroke mask [S],
        end widths [S, 2]."""
        dev = self.device
        ctrls: list[torch.Tensor] = []
        kinds: list[torch.Tensor] = []
        groups: list[np.ndarray] = []
        strokes: list[np.ndarray] = []
        widths: list[torch.Tensor] = []
        if self.points:
            idx_np, kind_np, group_np, stroke_np = self._path_segments()
            table = torch.cat(self.points)
            idx = torch.from_numpy(idx_np).to(dev)
            kind = torch.from_numpy(kind_np).to(dev)
            elevate = torch.tensor(_ELEVATE, dtype=self.dtype, device=dev)
            gathered = take(table, idx.reshape(-1)).reshape(-1, 4, 2)  # [S, 4, 2]
            ctrls.append(torch.einsum("sij,sjd->sid", elevate[kind], gathered))
            kinds.append(kind)
            groups.append(group_np)
            strokes.append(stroke_np)
            if self.with_widths:
                wtable = torch.cat(self.widths)
                widths.append(torch.stack([take(wtable, idx[:, 0]), take(wtable, idx[:, 3])], 1))
            else:
                widths.append(table.new_zeros((idx.shape[0], 2)))
        if self.direct_ctrl:
            ctrls.append(torch.cat(self.direct_ctrl))
            kinds.append(torch.full((ctrls[-1].shape[0],), 2, dtype=torch.int64, device=dev))
            groups.append(np.concatenate(self.direct_group))
            strokes.append(np.ones(ctrls[-1].shape[0], dtype=bool))
            widths.append(torch.cat(self.direct_width))
        if not ctrls:
            empty = torch.zeros((0,), dtype=self.dtype, device=dev)
            return (
                empty.reshape(0, 4, 2),
                torch.zeros(0, dtype=torch.int64, device=dev),
                torch.zeros(0, dtype=torch.int64, device=dev),
                torch.zeros(0, dtype=torch.bool, device=dev),
                empty.reshape(0, 2),
            )
        group_np = np.concatenate(groups)
        out = (
            torch.cat(ctrls),
            torch.cat(kinds),
            torch.from_numpy(group_np).to(dev),
            torch.from_numpy(np.concatenate(strokes)).to(dev),
            torch.cat(widths),
        )
        if len(ctrls) == 1:  # each list was filled in group order
            return out
        # Circles and ellipses were collected apart; restore painter's (group) order.
        order = torch.from_numpy(np.argsort(group_np, kind="stable")).to(dev)
        return tuple(take(x, order) for x in out)  # type: ignore[return-value]


def _shape_segments(builder: _Builder, shape: Shape, group: int) -> None:
    dev, dt = builder.device, builder.dtype
    if isinstance(shape, Path):
        ncp = shape.num_control_points.detach()
        builder.add_path(ncp, shape.points, shape.is_closed, shape.stroke_width, group)
    elif isinstance(shape, Polygon):
        n = shape.points.shape[0]
        nseg = n if shape.is_closed else n - 1
        builder.add_path(
            torch.zeros(max(nseg, 0), dtype=torch.int64),
            shape.points,
            shape.is_closed,
            shape.stroke_width,
            group,
        )
    elif isinstance(shape, Rect):
        lo = shape.p_min.to(device=dev, dtype=dt)
        hi = shape.p_max.to(device=dev, dtype=dt)
        pts = torch.stack([lo, torch.stack([hi[0], lo[1]]), hi, torch.stack([lo[0], hi[1]])])
        builder.add_path(torch.zeros(4, dtype=torch.int64), pts, True, shape.stroke_width, group)
    elif isinstance(shape, Circle | Ellipse):
        unit = torch.as_tensor(_UNIT_CIRCLE, dtype=dt, device=dev)
        radius = shape.radius.to(device=dev, dtype=dt).reshape(-1)
        center = shape.center.to(device=dev, dtype=dt)
        ctrl = unit * radius + center  # radius [1] or [2] broadcasts over x, y
        builder.add_direct(ctrl, shape.stroke_width, group)
    else:
        raise TypeError(f"unsupported shape type {type(shape).__name__}")


def _apply_transforms(
    ctrl: torch.Tensor, seg_group: torch.Tensor, mats: list[torch.Tensor | None]
) -> torch.Tensor:
    if all(m is None for m in mats):
        return ctrl
    dev, dt = ctrl.device, ctrl.dtype
    eye = torch.eye(3, dtype=dt, device=dev)
    stacked = torch.stack([eye if m is None else m.to(device=dev, dtype=dt) for m in mats])
    m = stacked[seg_group]  # [S, 3, 3]
    hom = torch.cat([ctrl, torch.ones_like(ctrl[..., :1])], dim=-1)  # [S, 4, 3]
    out = torch.einsum("sij,skj->ski", m, hom)
    return out[..., :2] / out[..., 2:3]


def flatten_scene(
    shapes: Sequence[Shape],
    shape_groups: Sequence[ShapeGroup],
    *,
    device: torch.device,
    dtype: torch.dtype,
    tolerance: float = 0.02,
    max_pieces: int = 128,
) -> Pieces:
    """Flatten all groups' shapes into line pieces in canvas coordinates.

    A curve segment gets ``n = ceil(sqrt(0.75 * M / tolerance))`` pieces where ``M`` bounds
    the control polygon's second differences, so the chord error stays under
    ``tolerance`` pixels (the count itself carries no gradient).
    """
    builder = _Builder(device, dtype, widths=any(g.stroke_color is not None for g in shape_groups))
    mats: list[torch.Tensor | None] = [g.shape_to_canvas for g in shape_groups]
    # Identity transforms cost nothing; one comparison for all groups' (CPU) matrices.
    on_cpu = [i for i, m in enumerate(mats) if m is not None and m.device.type == "cpu"]
    if on_cpu:
        stacked = torch.stack([mats[i].detach() for i in on_cpu]).to(torch.float64)  # type: ignore[union-attr]
        for i, same in zip(on_cpu, (stacked == _EYE).all(dim=(1, 2)).tolist(), strict=True):
            if same:
                mats[i] = None
    for gi, group in enumerate(shape_groups):
        for sid in group.shape_ids.tolist():
            if not 0 <= sid < len(shapes):
                raise IndexError(
                    f"shape group {gi} refers to shape {sid}, but there are {len(shapes)} shapes"
                )
            _shape_segments(builder, shapes[sid], gi)
    ctrl, kind, seg_group, seg_stroke, seg_w = builder.build()
    ctrl = _apply_transforms(ctrl, seg_group, mats)
    if ctrl.shape[0] == 0:
        z2 = ctrl.new_zeros((0, 2))
        z = ctrl.new_zeros((0,))
        return Pieces(z2, z2, seg_group, seg_stroke, z, z)
    if not bool(torch.isfinite(ctrl).all()):
        raise ValueError("scene contains non-finite coordinates")

    with torch.no_grad():
        d1 = (ctrl[:, 0] - 2 * ctrl[:, 1] + ctrl[:, 2]).norm(dim=-1)
        d2 = (ctrl[:, 1] - 2 * ctrl[:, 2] + ctrl[:, 3]).norm(dim=-1)
        bound = torch.maximum(d1, d2)
        n = torch.ceil(torch.sqrt(0.75 * bound / tolerance)).clamp(1, max_pieces).long()
        n = torch.where(kind == 0, torch.ones_like(n), n)
        seg_of_piece = torch.repeat_interleave(torch.arange(n.shape[0], device=device), n)
        first = torch.cumsum(n, 0) - n
        j = torch.arange(seg_of_piece.shape[0], device=device) - first[seg_of_piece]
        nn = n[seg_of_piece].to(dtype)
        t0 = (j.to(dtype) / nn).unsqueeze(-1)
        t1 = ((j + 1).to(dtype) / nn).unsqueeze(-1)

    c = take(ctrl, seg_of_piece)  # [N, 4, 2]

    def bezier(t: torch.Tensor) -> torch.Tensor:
        s = 1 - t
        return (
            (s * s * s) * c[:, 0]
            + (3 * s * s * t) * c[:, 1]
            + (3 * s * t * t) * c[:, 2]
            + (t * t * t) * c[:, 3]
        )

    a = bezier(t0)
    b = bezier(t1)
    w = take(seg_w, seg_of_piece)
    ha = w[:, 0] + t0[:, 0] * (w[:, 1] - w[:, 0])
    hb = w[:, 0] + t1[:, 0] * (w[:, 1] - w[:, 0])
    return Pieces(a, b, seg_group[seg_of_piece], seg_stroke[seg_of_piece], ha, hb)
