"""Reconstruction losses of the coarse and refinement stages (SuperSVG section 3)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["mask_coverage_loss", "masked_pixel_loss", "path_count_loss"]


def masked_pixel_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, *, eps: float = 1e-6
) -> torch.Tensor:
    """Mean squared colour error inside the superpixel.

    ``pred``/``target`` ``(B, C, H, W)``, ``mask`` ``(B, 1, H, W)`` in [0, 1]. The sum is
    divided by the masked area, so small superpixels weigh as much as large ones.
    """
    if pred.shape != target.shape or mask.shape[-2:] != pred.shape[-2:]:
        raise ValueError(f"shape mismatch: {pred.shape}, {target.shape}, {mask.shape}")
    err = (pred - target).pow(2) * mask
    area = mask.sum(dim=(1, 2, 3)).clamp_min(eps) * pred.shape[1]
    return (err.sum(dim=(1, 2, 3)) / area).mean()


def _dilate(mask: torch.Tensor, radius: int) -> torch.Tensor:
    if radius <= 0:
        return mask
    return F.max_pool2d(mask, kernel_size=2 * radius + 1, stride=1, padding=radius)


def mask_coverage_loss(
    alpha: torch.Tensor,
    mask: torch.Tensor,
    *,
    dilate: int = 2,
    inside_weight: float = 0.0,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Penalise coverage outside the (dilated) superpixel, optionally gaps inside it.

    ``alpha`` ``(B, 1, H, W)`` is the coverage of the paths drawn fully opaque; the
    paper's mask loss is the mean coverage outside the mask dilated by ``dilate`` pixels.
    ``inside_weight`` adds the mean uncovered fraction inside the mask.
    """
    if alpha.shape != mask.shape:
        raise ValueError(f"alpha {alpha.shape} and mask {mask.shape} differ")
    outside = 1.0 - _dilate(mask, dilate)
    loss = (alpha * outside).sum() / outside.sum().clamp_min(eps)
    if inside_weight:
        loss = loss + inside_weight * ((1.0 - alpha) * mask).sum() / mask.sum().clamp_min(eps)
    return loss


def path_count_loss(visibility: torch.Tensor) -> torch.Tensor:
    """Mean number of visible paths per sample (``visibility`` ``(B, N)`` in [0, 1])."""
    if visibility.dim() != 2:
        raise ValueError("visibility must be (B, N)")
    return visibility.sum(dim=1).mean()
