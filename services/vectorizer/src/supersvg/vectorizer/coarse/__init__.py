"""Coarse stage: the first set of paths, analytic (contour fit) or learned (checkpoint).

The learned model lives in ``supersvg.vectorizer.learned`` when the training work
provides it. That module must expose::

    def predict_paths(image: np.ndarray, *, labels: np.ndarray, max_paths: int,
                      checkpoint: str, device: str, seed: int) -> list[VPath]

with ``image`` the ``(H, W, 4)`` float RGBA working image in [0, 1] and ``labels`` the
SLIC superpixels (0 = transparent).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from ..errors import CheckpointError
from .analytic import fit_layers

__all__ = ["fit_layers", "load_learned"]


def load_learned(checkpoint: str) -> Callable[..., Any]:
    """Return the learned coarse predictor, or raise CheckpointError saying why not."""
    try:
        mod = importlib.import_module("supersvg.vectorizer.learned")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("supersvg.vectorizer.learned"):
            raise CheckpointError(
                f"--checkpoint {checkpoint!r} given, but learned coarse models are not "
                "available in this installation (supersvg.vectorizer.learned is "
                "missing); run without --checkpoint for the analytic coarse stage"
            ) from exc
        raise CheckpointError(f"the learned coarse model cannot be imported: {exc}") from exc
    fn = getattr(mod, "predict_paths", None)
    if not callable(fn):
        raise CheckpointError("supersvg.vectorizer.learned does not define predict_paths()")
    return fn  # type: ignore[no-any-return]
