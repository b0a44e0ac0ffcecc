"""Raw head outputs -> closed cubic paths with colour and visibility, and their rendering."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

__all__ = ["PathDecoder", "PathParams", "render_paths"]


class _HardVisibility(torch.autograd.Function):
    """Forward: 1 where p > 0.5 else 0; backward: the gradient of p (straight-through)."""

    @staticmethod
    def forward(ctx: object, p: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return (p > 0.5).to(p.dtype)

    @staticmethod
    def backward(ctx: object, grad: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return grad


@dataclass
class PathParams:
    """A batch of predicted paths, coordinates normalised to the crop ([0, 1] = its box).

    ``points`` ``(B, N, 3S, 2)`` (closed: segment k runs from point 3k through controls
    3k+1, 3k+2 to point 3k+3 mod 3S), ``colors`` ``(B, N, 3)`` RGB in [0, 1],
    ``visibility`` ``(B, N)`` in {0, 1} (straight-through gradient), ``vis_prob`` its
    probability.
    """

    points: torch.Tensor
    colors: torch.Tensor
    visibility: torch.Tensor
    vis_prob: torch.Tensor

    @property
    def num_segments(self) -> int:
        return int(self.points.shape[2]) // 3

    def flat(self) -> torch.Tensor:
        """``(B, N, 6S + 3)``: points then colour, the sequence element DPW compares."""
        b, n = self.points.shape[:2]
        return torch.cat([self.points.reshape(b, n, -1), self.colors], dim=-1)

    def detach(self) -> PathParams:
        return PathParams(
            self.points.detach(),
            self.colors.detach(),
            self.visibility.detach(),
            self.vis_prob.detach(),
        )

    def select(self, index: slice) -> PathParams:
        """The paths ``index`` of every sample (a slice over N)."""
        return PathParams(
            self.points[:, index],
            self.colors[:, index],
            self.visibility[:, index],
            self.vis_prob[:, index],
        )


def _circle_template(segments: int) -> torch.Tensor:
    """``(3S, 2)`` points of a unit circle drawn with ``segments`` cubic arcs."""
    k = 4.0 / 3.0 * math.tan(math.pi / (2 * segments))
    pts = []
    for s in range(segments):
        a0 = 2 * math.pi * s / segments
        a1 = 2 * math.pi * (s + 1) / segments
        p0 = (math.cos(a0), math.sin(a0))
        pts += [
            p0,
            (p0[0] - k * math.sin(a0), p0[1] + k * math.cos(a0)),
            (math.cos(a1) + k * math.sin(a1), math.sin(a1) - k * math.cos(a1)),
        ]
    return torch.tensor(pts, dtype=torch.float32)


class PathDecoder(nn.Module):
    """Maps ``(B, N, raw_dim)`` head outputs to :class:`PathParams`.

    Each path is a circle template placed by a centre and per-axis radius, then deformed
    point by point, so even an untrained model draws valid, non-degenerate blobs (the
    paper regresses points directly; the template makes short CPU runs converge).
    """

    def __init__(self, segments: int, max_offset: float = 0.35) -> None:
        super().__init__()
        self.segments = segments
        self.max_offset = max_offset
        self.register_buffer("template", _circle_template(segments), persistent=False)

    @staticmethod
    def raw_dim(segments: int) -> int:
        return 2 + 2 + 6 * segments + 3 + 1

    def init_output(self, layer: nn.Linear) -> None:
        """Start every path visible and mid-sized: an all-invisible start has no pixel
        gradient for shape or colour, and training can stall there."""
        s3 = 3 * self.segments
        with torch.no_grad():
            layer.weight.mul_(0.5)
            layer.bias.zero_()
            layer.bias[2:4] = -1.0  # radius ~0.18 of the crop
            layer.bias[7 + 2 * s3] = 2.0  # visibility probability ~0.88

    def forward(self, raw: torch.Tensor) -> PathParams:
        s3 = 3 * self.segments
        center = torch.sigmoid(raw[..., 0:2])
        radius = torch.sigmoid(raw[..., 2:4]) * 0.6 + 0.02
        offsets = torch.tanh(raw[..., 4 : 4 + 2 * s3]).unflatten(-1, (s3, 2)) * self.max_offset
        template: torch.Tensor = self.template  # type: ignore[assignment]
        points = center.unsqueeze(-2) + radius.unsqueeze(-2) * template.to(raw.dtype) + offsets
        colors = torch.sigmoid(raw[..., 4 + 2 * s3 : 7 + 2 * s3])
        vis_prob = torch.sigmoid(raw[..., 7 + 2 * s3])
        visibility = _HardVisibility.apply(vis_prob)
        return PathParams(points, colors, visibility, vis_prob)


def _tiled_scene(
    rows: list[tuple[PathParams, bool]], size: int
) -> tuple[list[Any], list[Any], int, int]:
    """One pydiffvg scene holding every sample (columns) of every row, each in its own
    tile. Points stay within one crop size of their tile (centre in [0, 1], radius <= 0.62,
    offsets <= 0.35), so a gutter of ``size`` on each side keeps tiles from touching."""
    import pydiffvg

    stride = 3 * size
    shapes: list[Any] = []
    groups: list[Any] = []
    for r, (params, opaque) in enumerate(rows):
        b, n = params.points.shape[:2]
        ncp = torch.full((params.num_segments,), 2, dtype=torch.int32)
        vis = torch.ones_like(params.visibility) if opaque else params.visibility
        for i in range(b):
            origin = params.points.new_tensor([i * stride + size, r * stride + size])
            for j in range(n):
                shapes.append(
                    pydiffvg.Path(
                        num_control_points=ncp,
                        points=params.points[i, j] * size + origin,
                        is_closed=True,
                        stroke_width=torch.tensor(0.0),
                    )
                )
                rgb = torch.ones_like(params.colors[i, j]) if opaque else params.colors[i, j]
                groups.append(
                    pydiffvg.ShapeGroup(
                        shape_ids=torch.tensor([len(shapes) - 1], dtype=torch.int32),
                        fill_color=torch.cat([rgb, vis[i, j : j + 1]]),
                    )
                )
    width = stride * max(p.points.shape[0] for p, _ in rows)
    return shapes, groups, width, stride * len(rows)


def render_paths(
    params: PathParams,
    size: int,
    *,
    opaque: bool = False,
    background: torch.Tensor | None = None,
    samples: int = 2,
    with_coverage: bool = False,
) -> Any:
    """Render each sample's paths through pydiffvg -> ``(B, 4, size, size)`` straight RGBA.

    The whole batch is one scene (one renderer call). ``opaque`` draws every path white
    and visible. ``background`` ``(B, 4, size, size)`` is composited under the paths.
    ``with_coverage`` also returns ``(B, 1, size, size)``: the coverage of all paths drawn
    opaque and visible, from the same renderer call.
    """
    import pydiffvg

    b = params.points.shape[0]
    rows = [(params, opaque)] + ([(params, True)] if with_coverage else [])
    shapes, groups, width, height = _tiled_scene(rows, size)
    img = pydiffvg.render(
        shapes, groups, width=width, height=height, samples=samples,
        device=params.points.device,
    ).permute(2, 0, 1)  # fmt: skip
    stride = 3 * size

    def tiles(row: int) -> torch.Tensor:
        y = row * stride + size
        return torch.stack(
            [img[:, y : y + size, i * stride + size : i * stride + 2 * size] for i in range(b)]
        )

    rgba = tiles(0)
    if background is not None:
        a = rgba[:, 3:4]
        ba = background[:, 3:4]
        out_a = a + ba * (1 - a)
        rgb = (rgba[:, :3] * a + background[:, :3] * ba * (1 - a)) / out_a.clamp_min(1e-6)
        rgba = torch.cat([rgb, out_a], dim=1)
    if with_coverage:
        return rgba, tiles(1)[:, 3:4]
    return rgba
