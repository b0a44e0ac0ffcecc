"""SuperSVG vectorizer: raster image -> compact SVG of filled cubic Bézier paths.

Public API::

    from supersvg.vectorizer import Vectorizer, VectorizeConfig
    res = Vectorizer(VectorizeConfig(max_paths=256)).vectorize(image_bytes)
    res.svg, res.num_paths, res.preview_png, res.metrics

The pipeline (scikit-image, torch) is imported on first use, so that the CLI can reject
bad input quickly and other modules of the package stay light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .config import PRESETS, VectorizeConfig
from .errors import EXIT_CODES, Cancelled, CheckpointError, InvalidImageError, VectorizerError

if TYPE_CHECKING:
    from .pipeline import Result, Vectorizer, vectorize

__all__ = [
    "EXIT_CODES",
    "PRESETS",
    "Cancelled",
    "CheckpointError",
    "InvalidImageError",
    "Result",
    "VectorizeConfig",
    "Vectorizer",
    "VectorizerError",
    "vectorize",
]

_LAZY = {"Result", "Vectorizer", "vectorize"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from . import pipeline

        return getattr(pipeline, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
