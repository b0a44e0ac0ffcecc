"""One measurement record per SVG: counts, bytes, PSNR/SSIM at 1x and PSNR at 4x.

At 1x the SVG is compared with the raster input; at 4x (sets drawn from source SVGs) it
is drawn at 4x the input size and compared with the source SVG drawn at 4x, both by
resvg, RGB over white. Source renders at 4x are cached as PNG under
``.work/sources/resvg-<version>``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from supersvg.vectorizer.metrics import psnr

from .peers import image_key
from .render import over_white, render_rgba, renderer_version, score
from .sets import Item
from .svgstats import svg_stats

__all__ = ["SCALE", "Measurer"]

SCALE = 4


class Measurer:
    """Measures SVGs against the items of a run; keeps 4x source renders on disk."""

    def __init__(self, work: Path) -> None:
        self.dir = work / "sources" / f"resvg-{renderer_version()}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._memo: dict[str, np.ndarray] = {}

    def source_at_scale(self, item: Item) -> np.ndarray | None:
        """The item's source SVG drawn at SCALE x its input size (uint8 RGBA), or None."""
        if item.source_svg is None:
            return None
        key = image_key(item.image)
        if key in self._memo:
            return self._memo[key]
        h, w = item.image.shape[:2]
        path = self.dir / f"{key}_{SCALE}x.png"
        if path.exists():
            img = np.asarray(Image.open(path).convert("RGBA"))
        else:
            img = render_rgba(item.source_svg, w * SCALE, h * SCALE)
            Image.fromarray(img).save(path)
        self._memo = {key: img}  # one at a time: 4 MB each
        return img

    def psnr_at_scale(self, svg: str, item: Item) -> float | None:
        """PSNR of ``svg`` at SCALE x against the source at SCALE x (None: no source)."""
        ref = self.source_at_scale(item)
        if ref is None:
            return None
        h, w = ref.shape[:2]
        return psnr(over_white(ref), over_white(render_rgba(svg, w, h)))

    def measure(self, svg: str, item: Item, *, full: bool = True) -> dict[str, Any]:
        """Counts and bytes, PSNR at 1x; with ``full`` also SSIM at 1x and PSNR at 4x."""
        st = svg_stats(svg)
        p, s = score(svg, item.image, with_ssim=full)
        rec: dict[str, Any] = {
            "outlines": st.outlines,
            "curves": st.curves,
            "lines": st.lines,
            "fills": st.fills,
            "bytes": st.raw_bytes,
            "gzip": st.gzip_bytes,
            "psnr": p,
        }
        if full:
            rec["ssim"] = s
            rec["psnr4x"] = self.psnr_at_scale(svg, item)
        return rec
