"""Rendering SVGs with resvg at a chosen scale and scoring them (RGB over white).

Every method's SVG and every source SVG goes through the same renderer here, so scores
compare like with like. PSNR / SSIM are the vectorizer's own definitions
(``supersvg.vectorizer.metrics``), the figures its ``--metrics`` file reports.
"""

from __future__ import annotations

import io
from importlib.metadata import version

import numpy as np
import resvg_py
from PIL import Image

from supersvg.vectorizer.metrics import composite_white, psnr, ssim

__all__ = ["over_white", "render_rgba", "renderer_version", "score"]


def renderer_version() -> str:
    """The resvg binding's version (part of every cache key that holds a rendered figure)."""
    return version("resvg-py")


def render_rgba(svg: str, width: int, height: int) -> np.ndarray:
    """``svg`` rasterised by resvg at ``width`` x ``height``: ``(H, W, 4)`` uint8 RGBA.

    The SVG is drawn at that size (its viewBox scaled to fit), not drawn small and
    resampled: a size resvg does not honour is an error.
    """
    png = bytes(resvg_py.svg_to_bytes(svg_string=svg, width=width, height=height))
    img = Image.open(io.BytesIO(png)).convert("RGBA")
    if img.size != (width, height):
        raise ValueError(f"resvg drew {img.size}, asked for {(width, height)}")
    return np.asarray(img)


def over_white(rgba: np.ndarray) -> np.ndarray:
    """uint8 RGBA -> float RGB in [0, 1], composited over white."""
    return composite_white(rgba.astype(np.float64) / 255.0)


def score(svg: str, reference: np.ndarray, *, with_ssim: bool = True) -> tuple[float, float | None]:
    """PSNR (and SSIM) of ``svg`` drawn at the size of ``reference`` (uint8 RGBA)."""
    h, w = reference.shape[:2]
    ref = over_white(reference)
    out = over_white(render_rgba(svg, w, h))
    return psnr(ref, out), (ssim(ref, out) if with_ssim else None)
