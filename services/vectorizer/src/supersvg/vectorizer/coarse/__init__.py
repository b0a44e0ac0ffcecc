"""Coarse stage: the first shapes, analytic (layered contour fit) or learned (checkpoint).

The learned model is ``supersvg.vectorizer.learned.predict_paths(image, *, labels,
max_paths, checkpoint, device, seed) -> list[VPath]`` with ``image`` the ``(H, W, 4)``
float RGBA working image in [0, 1] and ``labels`` the regions (0 = transparent).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .analytic import fit_layers

__all__ = ["fit_layers", "load_learned"]


def load_learned() -> Callable[..., Any]:
    """The learned coarse predictor.

    Imported when a checkpoint is given, not with the package: it needs torch and the
    models, whose import costs more than the whole analytic fast mode."""
    from ..learned import predict_paths

    return predict_paths
