"""pydiffvg.segments: sums over the rows before / after each row in its segment."""

from __future__ import annotations

import pytest
import torch

from pydiffvg.segments import segment_bounds, sum_after, sum_before

KEYS = torch.tensor([0, 0, 0, 3, 3, 4, 7, 7, 7, 7])


def _reference(x: torch.Tensor, after: bool) -> torch.Tensor:
    rows = []
    for i in range(KEYS.shape[0]):
        same = (KEYS[i] == KEYS).nonzero().squeeze(1)
        pick = same[same > i] if after else same[same < i]
        rows.append(x[pick].sum(0))
    return torch.stack(rows)


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
@pytest.mark.parametrize("shape", [(10,), (10, 3)], ids=["1-d", "2-d"])
def test_segment_sums_match_a_loop_and_gradcheck(after: bool, shape: tuple[int, ...]) -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(*shape, generator=gen, dtype=torch.float64, requires_grad=True)
    first, last = segment_bounds(KEYS)
    assert first.tolist() == [0, 0, 0, 3, 3, 5, 6, 6, 6, 6]
    assert last.tolist() == [2, 2, 2, 4, 4, 5, 9, 9, 9, 9]
    fn = sum_after if after else sum_before
    assert torch.allclose(fn(x, first, last), _reference(x, after))
    assert torch.autograd.gradcheck(lambda v: fn(v, first, last), (x,))


def test_segment_sums_keep_float32_precision_over_long_runs() -> None:
    # One running sum spans every segment: float64 inside keeps the last short segment
    # exact after a long, large one (float32 alone loses it).
    keys = torch.cat([torch.zeros(100_000, dtype=torch.long), torch.ones(2, dtype=torch.long)])
    x = torch.cat([torch.full((100_000,), -13.8), torch.tensor([-0.1, -0.2])])
    first, last = segment_bounds(keys)
    out = sum_before(x, first, last)
    assert float(out[-1]) == pytest.approx(-0.1, abs=1e-6)
    assert float(sum_after(x, first, last)[-2]) == pytest.approx(-0.2, abs=1e-6)
