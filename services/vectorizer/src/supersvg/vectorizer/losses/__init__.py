"""Training losses: masked pixel, mask/coverage, path count and dynamic path warping."""

from __future__ import annotations

from .dpw import dpw_loss, pairwise_sq_dist
from .pixel import mask_coverage_loss, masked_pixel_loss, path_count_loss

__all__ = [
    "dpw_loss",
    "mask_coverage_loss",
    "masked_pixel_loss",
    "pairwise_sq_dist",
    "path_count_loss",
]
