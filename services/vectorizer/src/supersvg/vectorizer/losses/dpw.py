"""Dynamic path warping (DPW): a soft, monotone alignment of two path sequences.

Each predicted path ``x_i`` is matched to one target path ``y_a(i)`` with
``a(1) <= a(2) <= ... <= a(N)``: several predictions may share a target, targets may be
skipped, and order is kept (unlike DTW, every prediction has exactly one partner, so
paths are not averaged). The loss is the soft-minimum (temperature ``gamma``) over all
such alignments of ``sum_i |x_i - y_a(i)|^2``.

With ``C[i, j]`` the soft-min cost of aligning ``x_1..x_i`` with ``a(i) <= j``::

    D[i, j] = d(i, j) + C[i-1, j]             (x_i takes target j)
    C[i, j] = softmin(C[i, j-1], D[i, j])     (or an earlier target)
    C[0, j] = 0,   loss = C[N, M]

so ``C[i, :]`` is a cumulative soft-min of ``D[i, :]``: one ``logcumsumexp`` per row,
vectorised over the batch and the whole row (the loop runs over the N predicted
positions, never over path pairs).
"""

from __future__ import annotations

import torch

__all__ = ["dpw_loss", "pairwise_sq_dist"]

#: Stands in for +inf outside the band: finite, so gradients stay NaN-free.
_FAR = 1e9


def pairwise_sq_dist(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``(B, N, D)`` x ``(B, M, D)`` -> ``(B, N, M)`` squared Euclidean distances."""
    return (x.unsqueeze(2) - y.unsqueeze(1)).pow(2).sum(-1)


def dpw_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    gamma: float = 0.01,
    bandwidth: int | None = None,
    reduction: str = "mean",
) -> torch.Tensor:
    """DPW between ``pred`` ``(B, N, D)`` and ``target`` ``(B, M, D)`` path sequences.

    ``bandwidth`` restricts the table to ``|i - j| <= bandwidth`` (Sakoe-Chiba band);
    sequences whose ends fall outside the band cost about ``1e9``.
    ``reduction`` is ``"mean"``, ``"sum"`` or ``"none"`` (per-sequence ``(B,)``).
    """
    if pred.dim() != 3 or target.dim() != 3 or pred.shape[0] != target.shape[0]:
        raise ValueError(f"expected (B, N, D) and (B, M, D), got {pred.shape} and {target.shape}")
    if pred.shape[2] != target.shape[2]:
        raise ValueError("pred and target paths must have the same parameter count")
    if gamma <= 0:
        raise ValueError("gamma must be positive")
    b, n, _ = pred.shape
    m = target.shape[1]
    if n == 0 or m == 0:
        raise ValueError("empty path sequence")
    # Soft-min in float32 at least: half precision would overflow exp(-d / gamma).
    dtype = torch.promote_types(pred.dtype, torch.float32)
    d = pairwise_sq_dist(pred.to(dtype), target.to(dtype))
    outside: torch.Tensor | None = None
    if bandwidth is not None:
        ii = torch.arange(n, device=d.device)[:, None]
        jj = torch.arange(m, device=d.device)[None, :]
        # Cells off the band take no part in the table at all (as in banded DTW).
        outside = (ii - jj).abs() > bandwidth
        d = d.masked_fill(outside, _FAR)
    prev = d.new_zeros(b, m)  # C[0, :]
    for i in range(n):
        row = d[:, i, :] + prev  # D[i, :]
        prev = -gamma * torch.logcumsumexp(-row / gamma, dim=1)  # C[i, :]
        if outside is not None:
            prev = prev.masked_fill(outside[i], _FAR)
    out = prev[:, -1]
    if reduction == "none":
        return out
    if reduction == "sum":
        return out.sum()
    if reduction == "mean":
        return out.mean()
    raise ValueError(f"unknown reduction {reduction!r}")
