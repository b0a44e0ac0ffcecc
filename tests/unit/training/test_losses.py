"""Losses: DPW against a plain-Python dynamic programme, and the reconstruction terms."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from supersvg.vectorizer.losses import (
    dpw_loss,
    mask_coverage_loss,
    masked_pixel_loss,
    path_count_loss,
)


def _softmin(values: list[float], gamma: float) -> float:
    finite = [v for v in values if v != math.inf]
    if not finite:
        return math.inf
    lo = min(finite)
    return lo - gamma * math.log(sum(math.exp(-(v - lo) / gamma) for v in finite))


def reference_dpw(
    x: list[list[float]], y: list[list[float]], gamma: float, band: int | None = None
) -> float:
    """Direct DP over the (N+1) x (M+1) table, one cell at a time (two states per cell:
    P = x_i matched to y_j, Q = y_j skipped), written independently of the tensor code."""
    n, m = len(x), len(y)
    inf = math.inf
    p = [[inf] * (m + 1) for _ in range(n + 1)]
    q = [[inf] * (m + 1) for _ in range(n + 1)]
    for j in range(m + 1):
        p[0][j] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if band is not None and abs(i - j) > band:
                continue
            d = sum((a - b) ** 2 for a, b in zip(x[i - 1], y[j - 1], strict=True))
            p[i][j] = d + _softmin([q[i - 1][j], p[i - 1][j]], gamma)
            q[i][j] = _softmin([q[i][j - 1], p[i][j - 1]], gamma)
    return _softmin([q[n][m], p[n][m]], gamma)


def brute_force_min(x: torch.Tensor, y: torch.Tensor) -> float:
    """Hard minimum over every monotone assignment of predictions to targets."""
    n, m = x.shape[0], y.shape[0]
    best = math.inf
    for a in itertools.combinations_with_replacement(range(m), n):
        best = min(best, sum(float((x[i] - y[a[i]]).pow(2).sum()) for i in range(n)))
    return best


@pytest.mark.parametrize(("n", "m", "gamma"), [(5, 7, 0.5), (6, 3, 0.1), (4, 4, 1.0), (1, 5, 0.3)])
def test_dpw_matches_the_reference_dp(n: int, m: int, gamma: float) -> None:
    gen = torch.Generator().manual_seed(n * 31 + m)
    x = torch.rand(3, n, 6, generator=gen, dtype=torch.float64)
    y = torch.rand(3, m, 6, generator=gen, dtype=torch.float64)
    got = dpw_loss(x, y, gamma=gamma, reduction="none")
    want = [reference_dpw(x[b].tolist(), y[b].tolist(), gamma) for b in range(3)]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64), rtol=1e-9, atol=1e-9)


def test_dpw_band_matches_reference() -> None:
    gen = torch.Generator().manual_seed(5)
    x = torch.rand(2, 6, 4, generator=gen, dtype=torch.float64)
    y = torch.rand(2, 6, 4, generator=gen, dtype=torch.float64)
    got = dpw_loss(x, y, gamma=0.2, bandwidth=1, reduction="none")
    want = [reference_dpw(x[b].tolist(), y[b].tolist(), 0.2, band=1) for b in range(2)]
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))


def test_dpw_small_gamma_is_the_best_monotone_alignment() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(4, 3, generator=gen, dtype=torch.float64)
    y = torch.rand(5, 3, generator=gen, dtype=torch.float64)
    got = float(dpw_loss(x[None], y[None], gamma=1e-4))
    assert got == pytest.approx(brute_force_min(x, y), abs=2e-3)
    # Identical sequences align at zero cost (up to the soft-min's entropy term).
    assert float(dpw_loss(y[None], y[None], gamma=1e-4)) == pytest.approx(0.0, abs=1e-3)


def test_dpw_gradients_are_finite_and_match_finite_differences() -> None:
    gen = torch.Generator().manual_seed(2)
    x = torch.rand(2, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 5, 3, generator=gen, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: dpw_loss(a, y, gamma=0.3, bandwidth=2), (x,))
    xf = x.detach().float().requires_grad_()
    dpw_loss(xf, y.float(), gamma=0.01).backward()
    assert xf.grad is not None and torch.isfinite(xf.grad).all()


def test_dpw_is_batched_and_device_correct() -> None:
    x = torch.rand(8, 5, 4)
    y = torch.rand(8, 6, 4)
    per = dpw_loss(x, y, reduction="none")
    assert per.shape == (8,)
    # Each row of the batch equals the loss of that pair alone.
    torch.testing.assert_close(per[3], dpw_loss(x[3:4], y[3:4], reduction="sum"))
    assert dpw_loss(x.half(), y.half()).dtype == torch.float32
    with pytest.raises(ValueError, match="same parameter count"):
        dpw_loss(x, torch.rand(8, 6, 5))


@pytest.mark.gpu
def test_dpw_on_cuda_matches_cpu() -> None:
    x = torch.rand(4, 16, 28)
    y = torch.rand(4, 20, 28)
    cuda = dpw_loss(x.cuda(), y.cuda(), reduction="none")
    assert cuda.device.type == "cuda"
    torch.testing.assert_close(cuda.cpu(), dpw_loss(x, y, reduction="none"), rtol=1e-4, atol=1e-5)


def test_masked_pixel_loss_counts_only_the_superpixel() -> None:
    target = torch.zeros(2, 3, 8, 8)
    pred = torch.zeros(2, 3, 8, 8)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, :4] = 1
    pred[:, :, 4:] = 1.0  # wrong only outside the mask
    assert float(masked_pixel_loss(pred, target, mask)) == 0.0
    pred[:, :, :4] = 0.5
    assert float(masked_pixel_loss(pred, target, mask)) == pytest.approx(0.25)


def test_mask_coverage_and_path_count() -> None:
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    inside = mask.clone()
    spill = torch.ones(1, 1, 16, 16)
    assert float(mask_coverage_loss(inside, mask)) == 0.0
    assert float(mask_coverage_loss(spill, mask)) == pytest.approx(1.0)
    assert float(mask_coverage_loss(torch.zeros_like(mask), mask, inside_weight=1.0)) == 1.0
    vis = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    assert float(path_count_loss(vis)) == 2.5
