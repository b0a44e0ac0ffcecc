"""The vectorization pipeline: load -> superpixels -> coarse paths -> refine -> prune -> write."""

from __future__ import annotations

import copy
import io
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from PIL import Image

from . import coarse
from .coarse.gradients import fit_gradients
from .config import VectorizeConfig, resolve_preset
from .errors import Cancelled
from .loader import ImageInput, load_image
from .metrics import composite_white, psnr, render_svg_png, ssim
from .prune import count_outlines, prune_paths
from .shapes import VPath
from .superpixels import (
    MIN_COLOR_MSE,
    VOID_ALPHA,
    edge_weights,
    premultiplied,
    quantize,
    segment,
    void_holes,
)
from .svg import format_color, write_svg

__all__ = ["ProgressFn", "Result", "Vectorizer", "detect_preset", "vectorize"]

log = logging.getLogger(__name__)

ProgressFn = Callable[[str, float], None]
CancelFn = Callable[[], bool]

# Share of overall progress at which each stage starts (stage, percent).
_STAGES = {
    "load": 0.0,
    "superpixels": 5.0,
    "coarse": 20.0,
    "refine": 30.0,
    "prune": 90.0,
    "write": 93.0,
    "metrics": 96.0,
    "done": 100.0,
}


@dataclass
class Result:
    """The outcome of one vectorization."""

    svg: str
    num_paths: int
    preview_png: bytes
    metrics: dict[str, Any]
    paths: list[VPath] = field(default_factory=list, repr=False)

    def to_json(self) -> str:
        """Metrics and config as JSON (what the service stores as ``result.json``)."""
        return json.dumps(self.metrics, sort_keys=True)


def detect_preset(rgba: np.ndarray) -> str:
    """Guess the kind of input: flat-colour art (icon / illustration) or a photograph.

    Flat fills give exactly equal neighbouring pixels over most of the image (measured:
    at least 0.97 of pairs on rendered flat art, at most 0.38 on the benchmark photos, even
    those with smooth skies); lossy compression blurs that, so near-equal pairs together
    with few dominant colours also count as flat art."""
    img = rgba.astype(np.int16)

    def equal_share(tol: int) -> float:
        same_h = (np.abs(img[:, 1:] - img[:, :-1]).max(axis=2) <= tol).mean()
        same_v = (np.abs(img[1:] - img[:-1]).max(axis=2) <= tol).mean()
        return 0.5 * (float(same_h) + float(same_v))

    _, counts = np.unique(rgba.reshape(-1, rgba.shape[2]), axis=0, return_counts=True)
    dominant = float(np.sort(counts)[::-1][:16].sum()) / max(1, counts.sum())
    flat = equal_share(0) > 0.6 or (equal_share(2) > 0.85 and dominant > 0.6)
    transparent = bool((rgba[..., 3] < 250).mean() > 0.02)
    if flat and (transparent or max(rgba.shape[:2]) <= 256):
        return "icon"
    if flat:
        return "illustration"
    return "photo"


class Vectorizer:
    """Turns raster images into compact SVGs. Reusable and thread-compatible per call."""

    def __init__(self, config: VectorizeConfig | None = None) -> None:
        self.config = config or VectorizeConfig()

    def vectorize(
        self,
        image: ImageInput,
        progress: ProgressFn | None = None,
        should_cancel: CancelFn | None = None,
    ) -> Result:
        """Vectorize ``image`` (bytes, path, PIL image or ``(H, W[, C])`` array).

        ``progress(stage, percent)`` receives overall percent in [0, 100]; ``should_cancel``
        is polled between stages and every few refinement steps (raises :class:`Cancelled`).
        Raises :class:`InvalidImageError` for unusable input.
        """
        cfg = self.config
        t0 = time.perf_counter()

        def report(stage: str, frac: float = 0.0) -> None:
            if should_cancel is not None and should_cancel():
                raise Cancelled()
            if progress is not None:
                keys = list(_STAGES)
                start = _STAGES[stage]
                nxt = _STAGES[keys[min(keys.index(stage) + 1, len(keys) - 1)]]
                progress(stage, round(start + (nxt - start) * min(max(frac, 0.0), 1.0), 2))

        report("load")
        rgba = load_image(image, max_pixels=cfg.max_pixels)
        h, w = rgba.shape[:2]
        preset_name = detect_preset(rgba) if cfg.preset == "auto" else cfg.preset
        preset = resolve_preset(preset_name)
        work = _downscale(rgba, cfg.work_size)
        wh, ww = work.shape[:2]
        scale = (w / ww, h / wh)

        report("superpixels")
        opaque = not bool((work[..., 3] < 250).any())
        stat = premultiplied(work)
        drawn = work[..., 3] >= VOID_ALPHA
        n_px = max(1, int(drawn.sum()))
        budget = cfg.max_paths
        # Every region is one outline; holes onto transparency cost one more each.
        regions = max(1, budget - void_holes(drawn.astype(np.int32)))
        if cfg.max_colors is not None:
            # A palette merges neighbours of one colour afterwards; regions much smaller
            # than a few superpixels would only become speckles of it (measured on photos
            # at K=16: 2,056 outlines and 49 KB gzip at 26.4 dB with superpixel-sized
            # regions, 669 outlines and 26 KB at 27.0 dB with four superpixels each).
            regions = min(regions, max(1, int(n_px / (4 * preset.px_per_superpixel))))
        n_super = int(min(max(2 * regions, n_px / preset.px_per_superpixel), n_px / 3))
        seg = segment(
            work,
            max(n_super, 1),
            regions,
            preset,
            free_error=MIN_COLOR_MSE * n_px,
        )
        if cfg.max_colors is not None:
            seg = quantize(seg, cfg.max_colors, cfg.seed, stat, edge_weights(stat))
        report("coarse")
        paths: list[VPath]
        if cfg.checkpoint:
            predict = coarse.load_learned()
            paths = list(
                predict(
                    work.astype(np.float32) / 255.0,
                    labels=seg.labels,
                    max_paths=budget,
                    checkpoint=cfg.checkpoint,
                    device=cfg.device,
                    seed=cfg.seed,
                )
            )
            for p in paths:
                p.subpaths = [s * np.array(scale) for s in p.subpaths]
        else:
            paths = coarse.fit_layers(
                seg,
                stat,
                tolerance=preset.fit_tolerance,
                dilate=preset.dilate,
                curves=preset.curves,
                corner_angle=preset.corner_angle,
                background=cfg.background and opaque,
                scale=scale,
            )
        if cfg.gradients == "auto" and cfg.max_colors is None and not cfg.checkpoint:
            # A palette caps distinct fills, which gradients would break: flat colours then.
            fit_gradients(paths, seg.labels, work.astype(np.float64) / 255.0, scale)
        refined = 0
        refine_note = "off"
        target = rgba.astype(np.float64) / 255.0
        a = composite_white(target)
        coarse_paths = [copy.deepcopy(p) for p in paths] if cfg.iterations > 0 else []
        if cfg.iterations > 0 and paths:
            # Imported here on purpose: refinement needs torch, whose import costs about
            # as much as the whole fast mode (--iterations 0), which never refines.
            from .refine import RendererUnavailable, refine_paths

            report("refine")
            deadline = t0 + cfg.time_budget if cfg.time_budget > 0 else None
            try:
                paths, refined, stopped = refine_paths(
                    paths,
                    rgba,
                    cfg,
                    preset,
                    progress=lambda f: report("refine", f),
                    deadline=deadline,
                )
                refine_note = f"pydiffvg ({stopped})" if refined else "skipped (time cap reached)"
            except RendererUnavailable as exc:
                # The analytic result stands on its own; say so in the metrics.
                log.warning("refinement skipped: %s", exc)
                refine_note = f"skipped ({exc})"
        report("prune")
        paths = prune_paths(paths, budget, (w, h))
        report("write")
        svg = write_svg(paths, w, h, precision=cfg.precision)
        report("metrics")
        preview = render_svg_png(svg, w, h)
        b = composite_white(_decode(preview))
        err = float(np.mean((a - b) ** 2))
        if refined:
            # Never return a refinement that the written file shows to be worse than the
            # coarse scene it started from (the refinement loss is measured at a lower
            # resolution by another renderer).
            c_paths = prune_paths(coarse_paths, budget, (w, h))
            c_svg = write_svg(c_paths, w, h, precision=cfg.precision)
            c_preview = render_svg_png(c_svg, w, h)
            c_b = composite_white(_decode(c_preview))
            if float(np.mean((a - c_b) ** 2)) <= err:
                paths, svg, preview, b = c_paths, c_svg, c_preview, c_b
                refine_note = "pydiffvg (coarse kept)"
        seconds = time.perf_counter() - t0
        metrics: dict[str, Any] = {
            "num_paths": count_outlines(paths),
            "num_colors": len(
                {
                    format_color(p.color) + f"{float(p.color[3]):.2f}"
                    for p in paths
                    if p.gradient is None
                }
            ),
            "num_gradients": sum(p.gradient is not None for p in paths),
            "psnr": round(psnr(a, b), 3),
            "ssim": round(ssim(a, b), 4),
            "seconds": round(seconds, 3),
            "svg_bytes": len(svg.encode()),
            "width": w,
            "height": h,
            "preset": preset_name,
            "iterations": refined,
            "refine": refine_note,
            "coarse": "learned" if cfg.checkpoint else "analytic",
            "max_paths": budget,
            "seed": cfg.seed,
        }
        report("done")
        return Result(
            svg=svg,
            num_paths=metrics["num_paths"],
            preview_png=preview,
            metrics=metrics,
            paths=paths,
        )


def _decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGBA"), dtype=np.float64) / 255.0


def _downscale(rgba: np.ndarray, size: int) -> np.ndarray:
    h, w = rgba.shape[:2]
    if max(h, w) <= size:
        return rgba
    f = size / max(h, w)
    nw, nh = max(1, round(w * f)), max(1, round(h * f))
    # Pillow resizes RGBA with premultiplied alpha, so transparent colours do not bleed.
    img = Image.fromarray(rgba, mode="RGBA").resize((nw, nh), Image.Resampling.BOX)
    return np.asarray(img, dtype=np.uint8)


def vectorize(image: ImageInput, config: VectorizeConfig | None = None, **kwargs: Any) -> Result:
    """Shortcut for ``Vectorizer(config).vectorize(image, ...)``."""
    return Vectorizer(config).vectorize(image, **kwargs)
