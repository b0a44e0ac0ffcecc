"""Vectorizer configuration and presets."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

__all__ = ["PRESETS", "GradientMode", "Preset", "PresetName", "VectorizeConfig", "resolve_preset"]

PresetName = Literal["auto", "photo", "illustration", "icon"]
GradientMode = Literal["auto", "off"]


@dataclass(frozen=True)
class Preset:
    """Tuning knobs that differ between kinds of input."""

    #: SLIC compactness (higher: rounder superpixels; lower: follow colour edges). SLIC
    #: rescales the image to [0, 1] first, so useful values are well below 1.
    compactness: float
    #: Working pixels per SLIC superpixel: sets the geometric detail.
    px_per_superpixel: float
    #: Outlines as fitted cubic Béziers (flat art) or as polygons (photos: edges there are
    #: noisy, and polygons refine through the faster ``render_polygons``).
    curves: bool
    #: Contour points turning more than this (degrees, over about two pixels) are corners.
    corner_angle: float
    #: Polygon-simplification / curve-fit tolerance in working pixels.
    fit_tolerance: float
    #: How far (pixels) a region slides under each neighbour drawn after it, so that
    #: anti-aliased edges never let the background through (no seams). Hidden by the
    #: neighbour; about one pixel makes boundary pixels fully covered.
    dilate: float
    #: Learning rates for refinement (points in working pixels, colours in [0, 1]).
    lr_points: float
    lr_colors: float
    #: Gaussian smoothing sigma used by SLIC.
    sigma: float


PRESETS: dict[str, Preset] = {
    "photo": Preset(
        compactness=0.08,
        px_per_superpixel=10.0,
        curves=False,
        corner_angle=55.0,
        fit_tolerance=0.8,
        dilate=1.0,
        lr_points=0.25,
        lr_colors=0.01,
        sigma=0.5,
    ),
    "illustration": Preset(
        compactness=0.05,
        px_per_superpixel=12.0,
        curves=True,
        corner_angle=55.0,
        fit_tolerance=0.5,
        dilate=1.0,
        lr_points=0.15,
        lr_colors=0.005,
        sigma=0.0,
    ),
    "icon": Preset(
        compactness=0.03,
        px_per_superpixel=12.0,
        curves=True,
        corner_angle=55.0,
        fit_tolerance=0.4,
        dilate=1.0,
        lr_points=0.1,
        lr_colors=0.005,
        sigma=0.0,
    ),
}


@dataclass(frozen=True)
class VectorizeConfig:
    """Everything that controls one vectorization (deterministic for a seed and device)."""

    #: Most closed outlines (subpaths, holes included) in the SVG.
    max_paths: int = 256
    #: Most distinct fill colours; None = no limit beyond ``max_paths``.
    max_colors: int | None = None
    #: Linear/radial gradient fills where they beat a flat colour ("auto") or never.
    gradients: GradientMode = "auto"
    iterations: int = 100
    preset: PresetName = "auto"
    seed: int = 0
    device: str = "cpu"
    checkpoint: str | None = None
    #: Longest side of the working image; larger inputs are downscaled for analysis.
    work_size: int = 512
    #: Longest side used by refinement (rendering through pydiffvg is the costly step).
    refine_size: int = 256
    #: Largest input accepted, in pixels (protects against decompression bombs).
    max_pixels: int = 64_000_000
    #: Draw a first path with the dominant colour under everything (opaque inputs only).
    background: bool = True
    #: Decimal places of coordinates in the SVG.
    precision: int = 1
    #: Anti-aliasing samples per pixel axis used by refinement.
    samples: int = 2
    #: Safety cap in wall-clock seconds for the whole call: refinement stops when the next
    #: step would overrun it (the best iterate so far is kept). 0 = no cap. The work is set
    #: by ``iterations`` and convergence, so the result does not depend on the machine's
    #: load unless this cap is reached (the metrics say so).
    time_budget: float = 60.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_paths < 1:
            raise ValueError("max_paths must be at least 1")
        if self.max_colors is not None and self.max_colors < 1:
            raise ValueError("max_colors must be at least 1 (or None for no limit)")
        if self.gradients not in ("auto", "off"):
            raise ValueError(f"gradients must be 'auto' or 'off', not {self.gradients!r}")
        if self.iterations < 0:
            raise ValueError("iterations must be >= 0")
        if self.preset not in ("auto", *PRESETS):
            raise ValueError(f"unknown preset {self.preset!r}")
        if not 0 <= self.precision <= 4:
            raise ValueError("precision must be between 0 and 4")
        if not self.time_budget >= 0:
            raise ValueError("time_budget must be >= 0 seconds (0 = no limit)")
        if self.work_size < 16 or self.refine_size < 16:
            raise ValueError("work_size and refine_size must be at least 16")

    @property
    def uses_torch(self) -> bool:
        """Whether the call imports torch: refinement (``iterations`` > 0) or the learned
        coarse stage (``checkpoint``). Fast mode imports neither."""
        return self.iterations > 0 or self.checkpoint is not None

    def with_(self, **changes: Any) -> VectorizeConfig:
        """Copy with some fields changed."""
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_preset(name: str) -> Preset:
    """Preset for a concrete (non-auto) name."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset {name!r}") from None
