"""Refinement: optimise path points and colours through the differentiable renderer.

Adam on the mean squared error between ``pydiffvg.render`` of the scene and the input at
the refinement resolution. The background rectangle keeps its geometry (it must cover
the canvas) but its colour is optimised.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from PIL import Image

from .config import Preset, VectorizeConfig
from .shapes import VPath
from .svg import straight_segments

__all__ = ["RendererUnavailable", "refine_paths", "renderer_available"]


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


def refine_paths(
    paths: list[VPath],
    rgba: np.ndarray,
    cfg: VectorizeConfig,
    preset: Preset,
    progress: Callable[[float], None] | None = None,
) -> tuple[list[VPath], int]:
    """Optimise ``paths`` (output pixel coordinates) against ``rgba`` for ``cfg.iterations``.

    Returns the refined paths and the number of steps taken. ``progress`` gets the fraction
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
    to_work = torch.tensor([sx, sy], dtype=torch.float32, device=device)
    target_pm = _premultiplied(target)

    point_params: list[torch.Tensor] = []
    color_params: list[torch.Tensor] = []
    shapes: list[Any] = []
    groups: list[Any] = []
    owners: list[list[Callable[[], torch.Tensor]]] = []
    for p in paths:
        ids = []
        builders: list[Callable[[], torch.Tensor]] = []
        for sub in p.subpaths:
            pts = torch.tensor(sub, dtype=torch.float32, device=device) * to_work
            n_seg = len(sub) // 3
            build: Callable[[], torch.Tensor]
            if p.is_background:
                build = _constant(pts)
            elif straight_segments(sub).all():
                # Polygon: optimise the vertices only, so edges stay straight lines (short
                # `l` commands in the SVG) instead of turning into curves.
                verts = pts[0::3].clone().requires_grad_(True)
                point_params.append(verts)
                build = _polygon_builder(verts)
            else:
                full = pts.clone().requires_grad_(True)
                point_params.append(full)
                build = _constant(full)
            builders.append(build)
            ids.append(len(shapes))
            shapes.append(
                pydiffvg.Path(
                    num_control_points=torch.full((n_seg,), 2, dtype=torch.int32),
                    points=build(),
                    is_closed=True,
                    stroke_width=torch.tensor(0.0),
                )
            )
        color = torch.tensor(np.asarray(p.color, dtype=np.float32), device=device)
        color.requires_grad_(True)
        color_params.append(color)
        owners.append(builders)
        groups.append(
            pydiffvg.ShapeGroup(
                shape_ids=torch.tensor(ids, dtype=torch.int32),
                fill_color=color,
                use_even_odd_rule=False,
            )
        )

    param_groups = [{"params": color_params, "lr": preset.lr_colors}]
    if point_params:
        # Learning rate in output pixels, converted to refinement pixels.
        param_groups.append({"params": point_params, "lr": preset.lr_points * min(sx, sy)})
    opt = torch.optim.Adam(param_groups)
    steps = 0
    best_loss = float("inf")
    best: list[tuple[list[torch.Tensor], torch.Tensor]] | None = None
    for it in range(cfg.iterations):
        if progress is not None and it % 5 == 0:
            progress(it / cfg.iterations)  # may raise Cancelled
        opt.zero_grad(set_to_none=True)
        k = 0
        for builders in owners:
            for build in builders:
                shapes[k].points = build()
                k += 1
        img = pydiffvg.render(
            shapes, groups, width=tw, height=th, samples=cfg.samples, device=device
        )
        # pydiffvg returns straight alpha; compare premultiplied so that colour under
        # transparency does not count.
        loss = torch.mean((_premultiplied(img) - target_pm) ** 2)
        if not torch.isfinite(loss):
            break
        lv = float(loss.detach())
        if lv < best_loss:
            best_loss = lv
            best = _snapshot(owners, color_params, to_work)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for c in color_params:
                c.clamp_(0.0, 1.0)
        steps += 1
    if best is not None:
        for p, (new_subs, new_color) in zip(paths, best, strict=True):
            if not p.is_background:
                p.subpaths = [s.cpu().numpy().astype(np.float64) for s in new_subs]
            p.color = new_color.cpu().numpy().astype(np.float64)
    return paths, steps


def _constant(pts: torch.Tensor) -> Callable[[], torch.Tensor]:
    return lambda: pts


def _polygon_builder(verts: torch.Tensor) -> Callable[[], torch.Tensor]:
    """Cubic points ``(3N, 2)`` of the straight-edged polygon through ``verts``."""

    def build() -> torch.Tensor:
        nxt = torch.roll(verts, -1, dims=0)
        d = nxt - verts
        return torch.stack([verts, verts + d / 3.0, verts + 2.0 * d / 3.0], dim=1).reshape(-1, 2)

    return build


def _snapshot(
    owners: list[list[Callable[[], torch.Tensor]]],
    colors: list[torch.Tensor],
    to_work: torch.Tensor,
) -> list[tuple[list[torch.Tensor], torch.Tensor]]:
    with torch.no_grad():
        return [
            ([b() / to_work for b in builders], c.clamp(0.0, 1.0).clone())
            for builders, c in zip(owners, colors, strict=True)
        ]
