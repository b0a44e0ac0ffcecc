"""SuperSVG vectorizer: raster image -> compact SVG of filled cubic Bézier paths.

Public API::

    from supersvg.vectorizer import Vectorizer, VectorizeConfig
    res = Vectorizer(VectorizeConfig(max_paths=256)).vectorize(image_bytes)
    res.svg, res.num_paths, res.preview_png, res.metrics
"""

from __future__ import annotations

from .config import PRESETS, VectorizeConfig
from .errors import EXIT_CODES, Cancelled, CheckpointError, InvalidImageError, VectorizerError
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
