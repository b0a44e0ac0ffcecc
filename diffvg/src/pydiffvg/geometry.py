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
    """Collects per-instance segment descriptions before one batched gather."""

    def __init__(self, device: torch.device, dtype: torch.dtype) -> None:
        self.device = device
        self.dtype = dtype
        self.point_chunks: list[torch.Tensor] = []  # [P_i, 2] point tables
        self.width_chunks: list[torch.Tensor] = []  # [P_i] half widths per point
        self.n_points = 0
        self.gather: list[np.ndarray] = []  # [S_i, 4] indices into the concatenated table
        self.kind: list[np.ndarray] = []  # [S_i] 0 line, 1 quadratic, 2 cubic
        self.seg_group: list[np.ndarray] = []
        self.seg_stroke: list[np.ndarray] = []
        self.direct_ctrl: list[torch.Tensor] = []  # [S_i, 4, 2] already-cubic control points
        self.direct_width: list[torch.Tensor] = []  # [S_i, 2]
        self.direct_group: list[np.ndarray] = []

    def _add_table(self, points: torch.Tensor, widths: torch.Tensor) -> int:
        base = self.n_points
        self.point_chunks.append(points.to(device=self.device, dtype=self.dtype))
        self.width_chunks.append(widths.to(device=self.device, dtype=self.dtype))
        self.n_points += points.shape[0]
        return base

    def _widths(self, stroke_width: torch.Tensor, count: int) -> torch.Tensor:
        w = stroke_width.to(device=self.device, dtype=self.dtype)
        if w.numel() == 1:
            return w.reshape(1).expand(count)
        if w.shape != (count,):
            raise ValueError(
                f"per-point stroke_width must have shape [{count}], got {tuple(w.shape)}"
            )
        return w

    def add_path(
        self, ncp: np.ndarray, points: torch.Tensor, closed: bool, width: torch.Tensor, group: int
    ) -> None:
        num_pts = points.shape[0]
        nseg = ncp.shape[0]
        if nseg == 0 or num_pts < 2:
            return
        base = self._add_table(points, self._widths(width, num_pts))
        starts = np.concatenate([[0], np.cumsum(ncp + 1)[:-1]])
        ends = (starts + ncp + 1) % num_pts if closed else starts + ncp + 1
        c1 = np.where(ncp >= 1, starts + 1, starts)
        c2 = np.where(ncp == 2, starts + 2, np.where(ncp == 1, starts + 1, ends))
        idx = np.stack([starts, c1, c2, ends], axis=1) + base
        seg_group = np.full(nseg, group)
        stroke = np.ones(nseg, dtype=bool)
        self.gather.append(idx)
        self.kind.append(ncp.astype(np.int64))
        self.seg_group.append(seg_group)
        self.seg_stroke.append(stroke)
        if not closed:
            # Fill closes open sub-paths implicitly (as SVG does); the stroke does not.
            last = base + int(ends[-1])
            self.gather.append(np.array([[last, last, base, base]]))
            self.kind.append(np.zeros(1, dtype=np.int64))
            self.seg_group.append(np.array([group]))
            self.seg_stroke.append(np.zeros(1, dtype=bool))

    def add_direct(self, ctrl: torch.Tensor, width: torch.Tensor, group: int) -> None:
        w = width.to(device=self.device, dtype=self.dtype).reshape(-1)[:1]
        self.direct_ctrl.append(ctrl.to(device=self.device, dtype=self.dtype))
        self.direct_width.append(w.expand(ctrl.shape[0], 2))
        self.direct_group.append(np.full(ctrl.shape[0], group))

    def build(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Return control points [S, 4, 2], kinds [S], groups [S], stroke mask [S],
        end widths [S, 2]."""
        dev = self.device
        ctrls: list[torch.Tensor] = []
        kinds: list[torch.Tensor] = []
        groups: list[np.ndarray] = []
        strokes: list[np.ndarray] = []
        widths: list[torch.Tensor] = []
        if self.gather:
            table = torch.cat(self.point_chunks)
            wtable = torch.cat(self.width_chunks)
            idx = torch.from_numpy(np.concatenate(self.gather)).to(dev)
            kind = torch.from_numpy(np.concatenate(self.kind)).to(dev)
            elevate = torch.tensor(_ELEVATE, dtype=self.dtype, device=dev)
            gathered = table[idx]  # [S, 4, 2]
            ctrls.append(torch.einsum("sij,sjd->sid", elevate[kind], gathered))
            kinds.append(kind)
            groups.append(np.concatenate(self.seg_group))
            strokes.append(np.concatenate(self.seg_stroke))
            widths.append(torch.stack([wtable[idx[:, 0]], wtable[idx[:, 3]]], dim=1))
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
        # Circles and ellipses were collected apart; restore painter's (group) order.
        order = torch.from_numpy(np.argsort(group_np, kind="stable")).to(dev)
        return (
            torch.cat(ctrls)[order],
            torch.cat(kinds)[order],
            torch.from_numpy(group_np).to(dev)[order],
            torch.from_numpy(np.concatenate(strokes)).to(dev)[order],
            torch.cat(widths)[order],
        )


def _shape_segments(builder: _Builder, shape: Shape, group: int) -> None:
    dev, dt = builder.device, builder.dtype
    if isinstance(shape, Path):
        ncp = shape.num_control_points.detach().cpu().numpy().astype(np.int64)
        builder.add_path(ncp, shape.points, shape.is_closed, shape.stroke_width, group)
    elif isinstance(shape, Polygon):
        n = shape.points.shape[0]
        nseg = n if shape.is_closed else n - 1
        builder.add_path(
            np.zeros(max(nseg, 0), dtype=np.int64),
            shape.points,
            shape.is_closed,
            shape.stroke_width,
            group,
        )
    elif isinstance(shape, Rect):
        lo = shape.p_min.to(device=dev, dtype=dt)
        hi = shape.p_max.to(device=dev, dtype=dt)
        pts = torch.stack([lo, torch.stack([hi[0], lo[1]]), hi, torch.stack([lo[0], hi[1]])])
        builder.add_path(np.zeros(4, dtype=np.int64), pts, True, shape.stroke_width, group)
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
    builder = _Builder(device, dtype)
    mats: list[torch.Tensor | None] = []
    for gi, group in enumerate(shape_groups):
        m = group.shape_to_canvas
        is_identity = m.device.type == "cpu" and bool(
            torch.equal(m.detach().to(torch.float64), torch.eye(3, dtype=torch.float64))
        )
        mats.append(None if is_identity else m)
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

    c = ctrl[seg_of_piece]  # [N, 4, 2]

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
    w = seg_w[seg_of_piece]
    ha = w[:, 0] + t0[:, 0] * (w[:, 1] - w[:, 0])
    hb = w[:, 0] + t1[:, 0] * (w[:, 1] - w[:, 0])
    return Pieces(a, b, seg_group[seg_of_piece], seg_stroke[seg_of_piece], ha, hb)
