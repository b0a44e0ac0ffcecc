"""Peer vectorizers: VTracer swept over its settings, and potrace on one-colour art.

VTracer (pip ``vtracer``, pinned) runs in-process over :data:`VTRACER_SWEEP`; each point
is cached under ``benchmarks/.work/vtracer/<version>/<image hash>/`` keyed by its
settings, with its SVG, so a rerun only scores what is new. potrace (the Debian package,
``make bench-deps``) traces a threshold of the image (alpha when the image has
transparency, else luminance) and is coloured with the image's ink colour (the mean colour
of the traced pixels); its size in pt is restated in pixels, which resvg can read.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import subprocess
import tempfile
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

__all__ = [
    "VTRACER_SWEEP",
    "PotraceMissing",
    "image_key",
    "potrace_svg",
    "potrace_version",
    "settings_key",
    "vtracer_inputs",
    "vtracer_svg",
]

_BASE: dict[str, Any] = {
    "colormode": "color",
    "hierarchical": "stacked",
    "mode": "spline",
    "filter_speckle": 4,
    "color_precision": 6,
    "layer_difference": 16,
    "corner_threshold": 60,
    "length_threshold": 4.0,
    "splice_threshold": 45,
    "path_precision": 2,
}


def _sweep() -> list[dict[str, Any]]:
    pts: list[dict[str, Any]] = []
    # The knobs that set the shape count: speckle size, colour depth, layer step.
    for fs in (1, 2, 4, 8, 16, 32, 64, 128):
        for cp, ld in ((4, 16), (6, 16), (8, 16), (6, 48), (8, 48), (4, 64)):
            pts.append(
                {**_BASE, "filter_speckle": fs, "color_precision": cp, "layer_difference": ld}
            )
    for fs in (2, 8, 32, 128):  # straight-line tracing
        pts.append({**_BASE, "filter_speckle": fs, "mode": "polygon"})
    for fs in (4, 16, 64):  # curve fitting and layering variants
        pts.append({**_BASE, "filter_speckle": fs, "corner_threshold": 30})
        pts.append({**_BASE, "filter_speckle": fs, "corner_threshold": 120})
        pts.append({**_BASE, "filter_speckle": fs, "length_threshold": 3.5})
        pts.append({**_BASE, "filter_speckle": fs, "length_threshold": 8.0})
        pts.append({**_BASE, "filter_speckle": fs, "hierarchical": "cutout"})
    for fs in (1, 4, 16, 64):  # one colour (black on white), for line art
        pts.append({**_BASE, "filter_speckle": fs, "colormode": "binary"})
    pts.append({**_BASE, "path_precision": 8})  # the library's defaults
    return pts


#: Every VTracer setting tried on every image (kept whole for the rate-distortion plot).
VTRACER_SWEEP: list[dict[str, Any]] = _sweep()


def settings_key(settings: dict[str, Any]) -> str:
    """A short stable name for a settings dict (cache key)."""
    text = json.dumps(settings, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def image_key(image: np.ndarray) -> str:
    """A stable hash of an image's pixels and shape (cache key)."""
    h = hashlib.sha1(str(image.shape).encode())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()[:16]


def _png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def vtracer_inputs(image: np.ndarray) -> dict[str, np.ndarray]:
    """What VTracer traces of ``image`` (uint8 RGBA): ``rgba`` as given and, when it has
    transparency, ``white``: flattened over white (opaque)."""
    out = {"rgba": image}
    alpha = image[..., 3:4].astype(np.float64) / 255.0
    if (alpha < 1.0).any():
        rgb = image[..., :3].astype(np.float64) * alpha + 255.0 * (1.0 - alpha)
        flat = np.dstack([np.round(rgb).astype(np.uint8), np.full(image.shape[:2], 255, np.uint8)])
        out["white"] = flat
    return out


def vtracer_svg(image: np.ndarray, settings: dict[str, Any]) -> str:
    """VTracer's SVG of ``image`` (uint8 RGBA) with ``settings`` (keys of VTRACER_SWEEP)."""
    import vtracer

    return str(vtracer.convert_raw_image_to_svg(_png(image), img_format="png", **settings))


def vtracer_version() -> str:
    return version("vtracer")


class PotraceMissing(RuntimeError):
    """The ``potrace`` program is not installed (``make bench-deps`` installs it)."""


def potrace_version() -> str:
    exe = shutil.which("potrace")
    if exe is None:
        raise PotraceMissing("potrace is not installed: run `make bench-deps` (apt-get potrace)")
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    first = out.stdout.splitlines()[0] if out.stdout else "potrace (unknown version)"
    return first.split(". Copyright")[0].strip()  # "potrace 1.16. Copyright (C) ..."


def _ink(image: np.ndarray, mask: np.ndarray) -> str:
    rgb = image[..., :3][mask]
    r, g, b = (round(float(v)) for v in (rgb.mean(axis=0) if len(rgb) else (0, 0, 0)))
    return f"#{r:02x}{g:02x}{b:02x}"


def potrace_svg(image: np.ndarray) -> str:
    """potrace's SVG of a threshold of ``image`` (uint8 RGBA), filled with its ink colour."""
    exe = shutil.which("potrace")
    if exe is None:
        raise PotraceMissing("potrace is not installed: run `make bench-deps` (apt-get potrace)")
    alpha = image[..., 3]
    if (alpha < 250).mean() > 0.02:  # transparent background: the ink is what is opaque
        mask = alpha >= 128
    else:
        lum = image[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])
        mask = lum < 128
    with tempfile.TemporaryDirectory() as tmp:
        pbm, svg = Path(tmp) / "in.pbm", Path(tmp) / "out.svg"
        Image.fromarray(~mask).convert("1").save(pbm)  # PBM: ink is black (0)
        subprocess.run([exe, "-s", "-o", str(svg), str(pbm)], check=True, capture_output=True)
        text = svg.read_text()
    # potrace sizes its SVG in pt, which resvg cannot read: state the same size in pixels.
    h, w = mask.shape
    text = re.sub(r'width="[\d.]+pt" height="[\d.]+pt"', f'width="{w}" height="{h}"', text, count=1)
    return text.replace('fill="#000000"', f'fill="{_ink(image, mask)}"')
