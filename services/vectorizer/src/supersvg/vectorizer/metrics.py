"""Rendering SVG with resvg and image-quality metrics (PSNR, SSIM)."""

from __future__ import annotations

import io

import numpy as np
import resvg_py
from PIL import Image
from skimage.metrics import structural_similarity

__all__ = ["composite_white", "psnr", "render_svg", "render_svg_png", "ssim"]


def render_svg_png(svg: str, width: int, height: int, background: str | None = None) -> bytes:
    """Render ``svg`` with resvg at ``width`` x ``height``; returns PNG bytes."""
    return bytes(
        resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height, background=background)
    )


def render_svg(svg: str, width: int, height: int, background: str | None = None) -> np.ndarray:
    """Render ``svg`` with resvg; returns ``(H, W, 4)`` float straight RGBA in [0, 1]."""
    png = render_svg_png(svg, width, height, background)
    img = Image.open(io.BytesIO(png)).convert("RGBA")
    if img.size != (width, height):
        img = img.resize((width, height), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float64) / 255.0


def composite_white(rgba: np.ndarray) -> np.ndarray:
    """Straight RGBA in [0, 1] over white -> RGB."""
    a = rgba[..., 3:4]
    return rgba[..., :3] * a + (1.0 - a)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB of two images in [0, 1] (capped at 100 for identical images)."""
    mse = float(np.mean((np.asarray(a, np.float64) - np.asarray(b, np.float64)) ** 2))
    if mse <= 1e-10:
        return 100.0
    return float(10.0 * np.log10(1.0 / mse))


def ssim(a: np.ndarray, b: np.ndarray) -> float:
    """Mean SSIM of two RGB images in [0, 1]."""
    win = min(7, a.shape[0], a.shape[1])
    if win % 2 == 0:
        win -= 1
    if win < 3:
        return 1.0 if np.allclose(a, b) else 0.0
    return float(structural_similarity(a, b, channel_axis=-1, data_range=1.0, win_size=win))
