"""Cutting pieces at grid lines: crossings come in order along each piece."""

from __future__ import annotations

import pytest
import torch

from pydiffvg.raster import _crossing_key


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_crossing_key_orders_by_piece_then_exactly_by_t(dtype: torch.dtype) -> None:
    gen = torch.Generator().manual_seed(0)
    owner = torch.sort(torch.randint(0, 1 << 20, (50_000,), generator=gen)).values
    t = torch.rand(50_000, generator=gen, dtype=dtype)
    # Ends, negative zero, values outside [0, 1] (clamped) and tiny ones: a key of
    # owner * 2 + t in float64 rounds t = 1e-30 to 0 next to owners near 2^20.
    t[::97], t[::89], t[::83], t[::79], t[::71], t[::67] = 0.0, 1.0, -0.0, 1e-30, 3e-8, 1.5
    t[::61] = -2e-7
    order = torch.argsort(_crossing_key(owner, t))
    o, v = owner[order], t.clamp(0, 1)[order]
    same = o[1:] == o[:-1]
    assert bool((o[1:] >= o[:-1]).all())
    if dtype == torch.float32:  # exact
        assert bool((v[1:][same] >= v[:-1][same]).all())
    else:  # float64 keeps t to about 2^-31 beside owners near 2^20
        assert bool((v[1:][same] >= v[:-1][same] - 2**-30).all())
