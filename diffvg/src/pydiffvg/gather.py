"""Row gathers whose backward is cheap: ``take(x, idx)`` is ``x[idx]`` for a 1-D index.

``x[idx]`` runs ``aten::index``, whose backward is an accumulating ``index_put`` that
sorts the index first; ``index_select``'s backward is a plain ``index_add``, several
times faster on the CPU. With gradients, rows of several values are gathered through the
flat storage, because ``index_add`` over rows is slow on the CPU too. The renderer
gathers tens of thousands of fragments, cells and entries many times per step.
"""

from __future__ import annotations

import math

import torch

__all__ = ["take"]


def take(x: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``x[idx]`` along the first dimension (``idx`` a 1-D integer tensor)."""
    if x.dim() == 1 or not x.requires_grad:
        return x.index_select(0, idx)
    row = math.prod(x.shape[1:])
    if row == 1:
        return x.reshape(-1).index_select(0, idx).reshape(idx.shape[0], *x.shape[1:])
    flat = (idx[:, None] * row + torch.arange(row, device=idx.device)).reshape(-1)
    return x.reshape(-1).index_select(0, flat).reshape(idx.shape[0], *x.shape[1:])
