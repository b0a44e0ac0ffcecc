"""The benchmark's image sets, built the same way on every machine.

- ``photo``: photographs shipped inside scikit-image (``skimage.data``), longest side 256 px;
- ``emoji``: a seeded subset of Twemoji (npm ``@twemoji/svg``, pinned version);
- ``icons``: a seeded subset of Tabler icons (npm ``@tabler/icons``, pinned), half outline
  (stroked) and half filled variants, ``currentColor`` drawn black;
- ``shapes``: seeded synthetic SVGs of flat-colour circles, ellipses, rounded squares,
  stars and polygons, overlapping, on white or on a transparent background.

Sets drawn from SVGs (emoji, icons, shapes) keep the source SVG so that methods can be
compared with it at any scale; their raster input is the source rendered by resvg at
256 px (RGBA). npm packages are fetched once with ``npm pack`` into ``benchmarks/.work``.
"""

from __future__ import annotations

import math
import re
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .render import render_rgba

__all__ = ["SETS", "SIZE", "Item", "build_set"]

SIZE = 256
TWEMOJI = "@twemoji/svg@15.0.0"
TABLER = "@tabler/icons@3.52.0"
PHOTOS = (
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "camera",
    "moon",
    "coins",
    "clock",
    "brick",
    "grass",
    "gravel",
)
SETS = ("photo", "emoji", "icons", "shapes")


@dataclass(frozen=True)
class Item:
    """One benchmark image: ``image`` is ``(H, W, 4)`` uint8 RGBA, ``source_svg`` or None."""

    set: str
    name: str
    image: np.ndarray
    source_svg: str | None


def _fit(img: Image.Image, size: int = SIZE) -> Image.Image:
    w, h = img.size
    f = size / max(w, h)
    return img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.LANCZOS)


def _photos(limit: int) -> list[Item]:
    from skimage import data

    out = []
    for name in PHOTOS[:limit]:
        img = _fit(Image.fromarray(getattr(data, name)()).convert("RGBA"))
        out.append(Item("photo", name, np.asarray(img), None))
    return out


def _npm_svgs(work: Path, spec: str, member_re: str) -> dict[str, str]:
    """SVG members of the npm package ``spec`` (name@version) matching ``member_re``."""
    work.mkdir(parents=True, exist_ok=True)
    name, version = spec.rsplit("@", 1)
    tgz = work / f"{name.lstrip('@').replace('/', '-')}-{version}.tgz"
    if not tgz.exists():
        try:
            subprocess.run(["npm", "pack", spec, "--silent"], cwd=work, check=True)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise RuntimeError(f"cannot fetch {spec} with `npm pack` (npm needed): {exc}") from exc
    out = {}
    with tarfile.open(tgz) as tar:
        for m in tar.getmembers():
            if m.isfile() and re.fullmatch(member_re, m.name):
                f = tar.extractfile(m)
                if f is not None:
                    out[m.name] = f.read().decode("utf-8")
    return out


def _pick(names: list[str], limit: int, seed: int) -> list[str]:
    """``limit`` names in a seeded order: a smaller limit picks a prefix of a larger one."""
    order = np.random.default_rng(seed).permutation(len(names))
    return [names[i] for i in order[:limit].tolist()]


def _svg_items(set_name: str, svgs: dict[str, str], names: list[str]) -> list[Item]:
    return [Item(set_name, Path(n).stem, render_rgba(svgs[n], SIZE, SIZE), svgs[n]) for n in names]


def _emoji(work: Path, limit: int, seed: int) -> list[Item]:
    svgs = _npm_svgs(work, TWEMOJI, r"package/[0-9a-f-]+\.svg")
    return _svg_items("emoji", svgs, _pick(sorted(svgs), limit, seed))


def _icons(work: Path, limit: int, seed: int) -> list[Item]:
    svgs = _npm_svgs(work, TABLER, r"package/icons/(outline|filled)/[a-z0-9-]+\.svg")
    outline = sorted(n for n in svgs if "/outline/" in n)
    filled = sorted(n for n in svgs if "/filled/" in n)
    names = _pick(outline, (limit + 1) // 2, seed) + _pick(filled, limit // 2, seed + 1)
    items = _svg_items("icons", svgs, names)
    # Outline and filled variants share names: keep the variant in the image name.
    return [
        Item(
            it.set,
            f"{'filled' if '/filled/' in n else 'outline'}-{it.name}",
            it.image,
            it.source_svg,
        )
        for it, n in zip(items, names, strict=True)
    ]


def _colour(rng: np.random.Generator) -> str:
    r, g, b = (int(c) for c in rng.integers(0, 256, 3))
    return f"#{r:02x}{g:02x}{b:02x}"


def _star(cx: float, cy: float, r: float, points: int, rot: float) -> str:
    pts = []
    for k in range(2 * points):
        rad = r if k % 2 == 0 else r * 0.45
        a = rot + math.pi * k / points
        pts.append(f"{cx + rad * math.cos(a):.2f},{cy + rad * math.sin(a):.2f}")
    return " ".join(pts)


def _polygon(cx: float, cy: float, r: float, sides: int, rot: float) -> str:
    return " ".join(
        f"{cx + r * math.cos(rot + 2 * math.pi * k / sides):.2f},"
        f"{cy + r * math.sin(rot + 2 * math.pi * k / sides):.2f}"
        for k in range(sides)
    )


def synthetic_svg(seed: int, size: int = SIZE) -> str:
    """A seeded scene of 1-8 overlapping flat-colour shapes (deterministic for a seed)."""
    rng = np.random.default_rng(seed)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {size} {size}">'
    ]
    if rng.random() < 0.5:  # else transparent
        parts.append(f'<rect width="{size}" height="{size}" fill="#ffffff"/>')
    for _ in range(int(rng.integers(1, 9))):
        fill = _colour(rng)
        cx, cy = (float(v) for v in rng.uniform(0.2 * size, 0.8 * size, 2))
        r = float(rng.uniform(0.08 * size, 0.3 * size))
        rot = float(rng.uniform(0, 2 * math.pi))
        kind = int(rng.integers(0, 5))
        if kind == 0:
            parts.append(f'<circle cx="{cx:.2f}" cy="{cy:.2f}" r="{r:.2f}" fill="{fill}"/>')
        elif kind == 1:
            parts.append(
                f'<ellipse cx="{cx:.2f}" cy="{cy:.2f}" rx="{r:.2f}" '
                f'ry="{r * rng.uniform(0.35, 0.9):.2f}" '
                f'transform="rotate({math.degrees(rot):.1f} {cx:.2f} {cy:.2f})" fill="{fill}"/>'
            )
        elif kind == 2:
            parts.append(
                f'<rect x="{cx - r:.2f}" y="{cy - r:.2f}" width="{2 * r:.2f}" height="{2 * r:.2f}" '
                f'rx="{r * rng.uniform(0.1, 0.5):.2f}" '
                f'transform="rotate({math.degrees(rot):.1f} {cx:.2f} {cy:.2f})" fill="{fill}"/>'
            )
        elif kind == 3:
            pts = _star(cx, cy, r, int(rng.integers(5, 8)), rot)
            parts.append(f'<polygon points="{pts}" fill="{fill}"/>')
        else:
            pts = _polygon(cx, cy, r, int(rng.integers(3, 9)), rot)
            parts.append(f'<polygon points="{pts}" fill="{fill}"/>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _shapes(limit: int, seed: int) -> list[Item]:
    out = []
    for k in range(limit):
        svg = synthetic_svg(seed * 1000 + k)
        out.append(Item("shapes", f"shapes{k:02d}", render_rgba(svg, SIZE, SIZE), svg))
    return out


def build_set(name: str, *, limit: int, seed: int, work: Path) -> list[Item]:
    """The first ``limit`` images of set ``name`` (photos: in PHOTOS order; others: seeded)."""
    if name == "photo":
        return _photos(limit)
    if name == "emoji":
        return _emoji(work, limit, seed)
    if name == "icons":
        return _icons(work, limit, seed)
    if name == "shapes":
        return _shapes(limit, seed)
    raise ValueError(f"unknown set {name!r} (known: {', '.join(SETS)})")
