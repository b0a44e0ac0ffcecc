"""VTracer over its whole sweep on every image (cached), and the matched comparison.

A swept point is VTracer's SVG for one image and one setting, measured at 1x (counts,
bytes, PSNR). Points are cached as JSON with their SVG under
``.work/vtracer/vtracer-<version>-resvg-<version>/<image hash>/<settings hash>.json``;
the sweep is not timed, so it runs on every core. An image with transparency is traced
twice per setting, as it is and flattened over white (VTracer fits the flattened one
better, and scores are taken over white): both are points. :func:`match` picks, for one
of our results, the point with the best PSNR among those with at most as many outlines.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

from .measure import Measurer
from .peers import (
    VTRACER_SWEEP,
    image_key,
    settings_key,
    vtracer_inputs,
    vtracer_svg,
    vtracer_version,
)
from .render import renderer_version
from .sets import Item

__all__ = ["MATCH_TIE_DB", "complete", "load_points", "match", "sweep_vtracer"]


#: PSNR differences smaller than this (dB) between VTracer points are ties in :func:`match`.
MATCH_TIE_DB = 0.05


def _point_path(work: Path, item: Item, settings: dict[str, Any]) -> Path:
    return (
        work
        / "vtracer"
        / f"vtracer-{vtracer_version()}-resvg-{renderer_version()}"
        / image_key(item.image)
        / f"{settings_key(settings)}.json"
    )


def _point_settings(item: Item) -> list[dict[str, Any]]:
    """Every swept setting of ``item``, with the input it traces (``input`` key)."""
    return [{**s, "input": name} for name in vtracer_inputs(item.image) for s in VTRACER_SWEEP]


def _trace_item(work: Path, item: Item) -> int:
    """Trace and measure every uncached point of one item; returns how many were new."""
    m = Measurer(work)
    inputs = vtracer_inputs(item.image)
    new = 0
    for settings in _point_settings(item):
        path = _point_path(work, item, settings)
        if path.exists():
            continue
        knobs = {k: v for k, v in settings.items() if k != "input"}
        svg = vtracer_svg(inputs[settings["input"]], knobs)
        rec = {"settings": settings, **m.measure(svg, item, full=False), "svg": svg}
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(rec))
        os.replace(tmp, path)
        new += 1
    return new


def sweep_vtracer(work: Path, items: list[Item], workers: int | None = None) -> int:
    """Fill the cache for ``items`` (in parallel); returns how many points were traced."""
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        return sum(_trace_item(work, it) for it in items)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(_trace_item, [work] * len(items), items))


def load_points(work: Path, item: Item) -> list[dict[str, Any]]:
    """Every cached sweep point of ``item`` (sweep order), each with its SVG."""
    return [json.loads(_point_path(work, item, s).read_text()) for s in _point_settings(item)]


def match(points: list[dict[str, Any]], outlines: int) -> dict[str, Any] | None:
    """The best-PSNR point with ``outlines`` or fewer; None if none.

    Points within MATCH_TIE_DB of the best PSNR count as ties (coordinate precision moves
    PSNR by hundredths of a dB and bytes by half): the one with fewest gzip bytes wins.
    """
    fit = [p for p in points if p["outlines"] <= outlines]
    if not fit:
        return None
    best = max(p["psnr"] for p in fit)
    return min(
        (p for p in fit if p["psnr"] >= best - MATCH_TIE_DB),
        key=lambda p: (p["gzip"], -p["psnr"]),
    )


def complete(work: Path, measurer: Measurer, item: Item, point: dict[str, Any]) -> dict[str, Any]:
    """``point`` with SSIM at 1x and PSNR at 4x added (measured once, then cached)."""
    if "ssim" in point:
        return point
    full = {**point, **measurer.measure(point["svg"], item, full=True)}
    path = _point_path(work, item, point["settings"])
    path.write_text(json.dumps(full))
    return full
