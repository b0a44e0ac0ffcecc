"""Sums over the other rows of a row's segment, with a hand-written backward.

Compositing sums ``log(1 - a)`` over the layers above each one, per pixel (sparse
entries) or per tile (the fill stack); the edge cells sum fragment heights left of each
cell, per row. The rows are sorted so that each segment is a run; one running sum over
all rows, taken in float64 because it spans every segment, gives each row its segment's
part. Autograd's backward of that expression flips the whole tensor twice for the
running sum and converts it between float32 and float64 at every step; the backward
here is one running sum of the output gradient and a gather.
"""

from __future__ import annotations

from typing import Any

import torch

from pydiffvg.gather import take

__all__ = ["segment_bounds", "sum_after", "sum_before"]


@torch.no_grad()
def segment_bounds(key: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For a sorted ``key`` per row: the first and the last row of each row's segment
    (its run of equal keys)."""
    _, inv, counts = torch.unique_consecutive(key, return_inverse=True, return_counts=True)
    ends = torch.cumsum(counts, 0)
    return take(ends - counts, inv), take(ends - 1, inv)


def sum_before(x: torch.Tensor, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """Per row ``i`` of ``x`` (along dimension 0): the sum of rows ``first[i]..i-1``."""
    out: torch.Tensor = _SumBefore.apply(x, first, last)
    return out


def sum_after(x: torch.Tensor, first: torch.Tensor, last: torch.Tensor) -> torch.Tensor:
    """Per row ``i`` of ``x`` (along dimension 0): the sum of rows ``i+1..last[i]``."""
    out: torch.Tensor = _SumAfter.apply(x, first, last)
    return out


class _SumBefore(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, first: torch.Tensor, last: torch.Tensor) -> Any:
        ctx.save_for_backward(last)
        x64 = x.to(torch.float64)
        run = torch.cumsum(x64, 0) - x64  # every row before i
        return (run - take(run, first)).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        (last,) = ctx.saved_tensors
        run = torch.cumsum(grad.to(torch.float64), 0)  # rows up to and with j
        return (take(run, last) - run).to(grad.dtype), None, None


class _SumAfter(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, first: torch.Tensor, last: torch.Tensor) -> Any:
        ctx.save_for_backward(first)
        run = torch.cumsum(x.to(torch.float64), 0)  # rows up to and with i
        return (take(run, last) - run).to(x.dtype)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> Any:
        (first,) = ctx.saved_tensors
        g64 = grad.to(torch.float64)
        run = torch.cumsum(g64, 0) - g64  # rows before j
        return (run - take(run, first)).to(grad.dtype), None, None
