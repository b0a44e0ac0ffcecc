"""Shared helpers for the pydiffvg tests: reference rendering with resvg and metrics."""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence

import numpy as np
import resvg_py
import torch
from PIL import Image

import pydiffvg
from pydiffvg.shape import Shape, ShapeGroup


def resvg_render(svg: str, width: int, height: int) -> np.ndarray:
    """Render SVG markup with resvg; straight RGBA float64 ``[H, W, 4]`` in [0, 1]."""
    png = resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height)
    with Image.open(io.BytesIO(bytes(png))) as im:
        arr = np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0
    assert arr.shape == (height, width, 4)
    return arr


def premultiply(img: np.ndarray) -> np.ndarray:
    """Straight RGBA -> premultiplied RGBA (the form in which images compare fairly)."""
    return np.concatenate([img[..., :3] * img[..., 3:], img[..., 3:]], axis=-1)


def compare_with_resvg(
    shapes: Sequence[Shape],
    shape_groups: Sequence[ShapeGroup],
    width: int,
    height: int,
    *,
    device: torch.device | str = "cpu",
) -> tuple[float, float]:
    """(worst per-channel mean absolute error, 99th percentile of per-pixel max error)
    between our render and resvg's render of our SVG, both premultiplied."""
    ours = pydiffvg.render(shapes, shape_groups, width=width, height=height, device=device)
    svg = pydiffvg.scene_to_svg(width, height, shapes, shape_groups)
    ref = resvg_render(svg, width, height)
    err = np.abs(premultiply(ours.detach().cpu().double().numpy()) - premultiply(ref))
    return float(err.mean(axis=(0, 1)).max()), float(np.percentile(err.max(axis=-1), 99))


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB for images in [0, 1]."""
    mse = float(((a - b) ** 2).mean())
    return float("inf") if mse == 0 else 10.0 * float(np.log10(1.0 / mse))


def cosine(u: torch.Tensor, v: torch.Tensor) -> float:
    """Cosine similarity of two flattened tensors."""
    u = u.flatten().double()
    v = v.flatten().double()
    return float((u @ v) / (u.norm() * v.norm()).clamp(min=1e-300))


def central_differences(
    loss: Callable[[], torch.Tensor],
    param: torch.Tensor,
    step: float,
    indices: torch.Tensor | None = None,
) -> torch.Tensor:
    """Central differences of ``loss`` for the entries ``indices`` of ``param`` (all if None)."""
    flat = param.data.view(-1)
    idx = torch.arange(flat.numel()) if indices is None else indices
    out = torch.zeros(idx.numel(), dtype=torch.float64)
    for k, i in enumerate(idx.tolist()):
        keep = float(flat[i])
        flat[i] = keep + step
        up = float(loss())
        flat[i] = keep - step
        down = float(loss())
        flat[i] = keep
        out[k] = (up - down) / (2 * step)
    return out
