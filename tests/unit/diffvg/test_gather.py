"""pydiffvg.gather.take is x[idx] with index_select's cheaper backward."""

from __future__ import annotations

import pytest
import torch

from pydiffvg.gather import take


@pytest.mark.parametrize("shape", [(10,), (10, 2), (10, 1), (10, 3, 2), (10, 0)])
@pytest.mark.parametrize("grad", [False, True], ids=["no-grad", "grad"])
@pytest.mark.parametrize(
    "idx",
    [torch.tensor([3, 1, 1, 9]), torch.tensor([[0, 2], [5, 5]]), torch.zeros(0, dtype=torch.long)],
    ids=["repeats", "2-d", "empty"],
)
def test_take_is_indexing_with_the_same_gradient(
    shape: tuple[int, ...], grad: bool, idx: torch.Tensor
) -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_(grad)
    ours, ref = take(x, idx), x[idx]
    assert ours.shape == ref.shape
    assert torch.equal(ours, ref)
    if grad and ref.numel():
        out_grad = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
        (g_ours,) = torch.autograd.grad(ours, x, out_grad)
        (g_ref,) = torch.autograd.grad(ref, x, out_grad)
        assert torch.allclose(g_ours, g_ref)  # repeated rows accumulate
