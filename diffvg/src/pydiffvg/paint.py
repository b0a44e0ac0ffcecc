"""Paint evaluation: the colour of a linear or radial gradient at given points.

Shared by the engine's sparse and dense chunks and the tiled fill stack, so every path
through the renderer paints a gradient the same way.
"""

from __future__ import annotations

import torch

from pydiffvg.shape import LinearGradient, RadialGradient

__all__ = ["gradient_rgba", "min_stop_alpha"]


def gradient_rgba(paint: LinearGradient | RadialGradient, points: torch.Tensor) -> torch.Tensor:
    """Straight RGBA ``[K, 4]`` of ``paint`` at ``points`` ``[K, 2]`` (canvas pixels; stops
    clamp at both ends, like SVG ``pad``), differentiable in the paint's tensors."""
    dev, dt = points.device, points.dtype
    offsets = paint.offsets.to(device=dev, dtype=dt)
    stops = paint.stop_colors.to(device=dev, dtype=dt)
    if isinstance(paint, LinearGradient):
        beg = paint.begin.to(device=dev, dtype=dt)
        d = paint.end.to(device=dev, dtype=dt) - beg
        t = ((points - beg) * d).sum(1) / (d * d).sum().clamp(min=1e-3)
    else:
        c = paint.center.to(device=dev, dtype=dt)
        r = paint.radius.to(device=dev, dtype=dt)
        t = ((points - c) / r).norm(dim=1)
    out = stops[0].expand(t.shape[0], 4)
    for k in range(offsets.shape[0] - 1):
        span = offsets[k + 1] - offsets[k]
        safe = torch.where(span > 0, span, torch.ones_like(span))
        frac = torch.where(
            span > 0, ((t - offsets[k]) / safe).clamp(0, 1), (t >= offsets[k]).to(dt)
        )
        out = out + frac[:, None] * (stops[k + 1] - stops[k])
    return out


def min_stop_alpha(paint: LinearGradient | RadialGradient) -> torch.Tensor:
    """A lower bound of the paint's opacity anywhere (colours interpolate between stops)."""
    return paint.stop_colors.detach()[:, 3].clamp(0.0, 1.0).min()
