"""``render_polygons``: the batched polygon fast path agrees with ``render`` and resvg and
has correct gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import pydiffvg
from tools.testing.diffvg import premultiply, resvg_render


def _star(cx: float, cy: float, r: float, n: int, phase: float, *, reverse: bool) -> np.ndarray:
    ang = phase + np.arange(2 * n) * math.pi / n
    rad = np.where(np.arange(2 * n) % 2 == 0, r, 0.55 * r)
    pts = np.stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)], axis=1)
    return pts[::-1].copy() if reverse else pts


def _scene(seed: int, size: int) -> tuple[list[np.ndarray], list[int], np.ndarray, list[bool]]:
    """Random loops in painter-ordered groups: some groups have a hole (reversed loop inside
    the outer one), some overlap others, some use even-odd, colours partly transparent."""
    rng = np.random.default_rng(seed)
    loops: list[np.ndarray] = []
    owner: list[int] = []
    n_groups = int(rng.integers(3, 12))
    colors = np.concatenate(
        [rng.uniform(0, 1, (n_groups, 3)), rng.uniform(0.4, 1, (n_groups, 1))], axis=1
    )
    even_odd = [bool(rng.random() < 0.3) for _ in range(n_groups)]
    for g in range(n_groups):
        for _ in range(int(rng.integers(1, 4))):
            cx, cy = rng.uniform(0.15 * size, 0.85 * size, 2)
            r = rng.uniform(0.08, 0.3) * size
            n = int(rng.integers(3, 9))
            phase = rng.uniform(0, math.pi)
            loops.append(_star(cx, cy, r, n, phase, reverse=False))
            owner.append(g)
            if rng.random() < 0.5:
                loops.append(_star(cx, cy, 0.35 * r, n, phase, reverse=True))
                owner.append(g)
    return loops, owner, colors, even_odd


def _as_shapes(
    loops: list[np.ndarray], owner: list[int], colors: torch.Tensor, even_odd: list[bool]
) -> tuple[list[pydiffvg.Polygon], list[pydiffvg.ShapeGroup]]:
    shapes = [pydiffvg.Polygon(torch.tensor(lp, dtype=colors.dtype), True) for lp in loops]
    groups = []
    for g in range(colors.shape[0]):
        ids = [i for i, o in enumerate(owner) if o == g]
        groups.append(
            pydiffvg.ShapeGroup(
                torch.tensor(ids, dtype=torch.int32), colors[g], use_even_odd_rule=even_odd[g]
            )
        )
    return shapes, groups


@pytest.mark.parametrize("seed", range(6))
def test_matches_render_and_resvg(seed: int) -> None:
    size = 48 + 16 * seed
    loops, owner, colors_np, even_odd = _scene(seed, size)
    verts = torch.tensor(np.concatenate(loops), dtype=torch.float64)
    colors = torch.tensor(colors_np, dtype=torch.float64)
    fast = pydiffvg.render_polygons(
        verts,
        [len(lp) for lp in loops],
        owner,
        colors,
        width=size,
        height=size,
        even_odd=even_odd,
    )
    shapes, groups = _as_shapes(loops, owner, colors, even_odd)
    ref = pydiffvg.render(shapes, groups, width=size, height=size)
    assert fast.shape == (size, size, 4)
    assert float((premultiply(fast.numpy()) - premultiply(ref.numpy())).__abs__().max()) < 1e-9
    svg = pydiffvg.scene_to_svg(size, size, shapes, groups)
    err = np.abs(premultiply(fast.numpy()) - premultiply(resvg_render(svg, size, size)))
    assert float(err.mean(axis=(0, 1)).max()) <= 0.01
    assert float(np.percentile(err.max(axis=-1), 99)) <= 0.15


def test_many_loops_with_background_matches_render() -> None:
    # A background rectangle and hundreds of small loops in a few groups (the vectorizer's
    # scenes), with a straight-alpha background image under everything.
    rng = np.random.default_rng(3)
    size = 64
    loops = [np.array([[0.0, 0], [size, 0], [size, size], [0, size]])]
    owner = [0]
    for k in range(300):
        cx, cy = rng.uniform(0, size, 2)
        loops.append(_star(cx, cy, rng.uniform(1.0, 4.0), 3 + k % 4, 0.3, reverse=False))
        owner.append(1 + k // 60)
    colors = torch.tensor(rng.uniform(0.2, 1, (6, 4)), dtype=torch.float32)
    colors[0, 3] = 1.0
    verts = torch.tensor(np.concatenate(loops), dtype=torch.float32)
    fast = pydiffvg.render_polygons(
        verts, [len(lp) for lp in loops], owner, colors, width=size, height=size
    )
    shapes, groups = _as_shapes(loops, owner, colors, [False] * 6)
    ref = pydiffvg.render(shapes, groups, width=size, height=size)
    assert float((fast - ref).abs().max()) < 1e-5


def test_gradcheck_vertices_and_colours() -> None:
    outer = [[2.2, 2.6], [13.4, 1.9], [14.1, 13.3], [1.7, 12.8]]
    hole = [[5.3, 5.1], [8.2, 10.7], [10.6, 5.4]]
    tri = [[6.4, 0.7], [15.3, 8.1], [6.9, 15.2]]
    verts = torch.tensor(outer + hole + tri, dtype=torch.float64, requires_grad=True)
    colors = torch.tensor(
        [[0.2, 0.4, 0.9, 0.9], [0.8, 0.3, 0.1, 0.6]], dtype=torch.float64, requires_grad=True
    )
    w = torch.linspace(0.5, 1.5, 16 * 16 * 4, dtype=torch.float64).reshape(16, 16, 4)

    def fn(v: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        img = pydiffvg.render_polygons(v, [4, 3, 3], [0, 0, 1], c, width=16, height=16)
        return (img * w).sum()

    assert torch.autograd.gradcheck(
        fn, (verts, colors), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True
    )


def test_gradient_matches_finite_differences() -> None:
    loops, owner, colors_np, even_odd = _scene(11, 40)
    verts = torch.tensor(np.concatenate(loops), dtype=torch.float64, requires_grad=True)
    colors = torch.tensor(colors_np, dtype=torch.float64)
    sizes = [len(lp) for lp in loops]
    target = torch.rand(40, 40, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))

    def loss(v: torch.Tensor) -> torch.Tensor:
        img = pydiffvg.render_polygons(
            v, sizes, owner, colors, width=40, height=40, even_odd=even_odd
        )
        return ((img - target) ** 2).sum()

    loss(verts).backward()
    assert verts.grad is not None
    rng = np.random.default_rng(0)
    for idx in rng.choice(verts.shape[0], 8, replace=False):
        for ax in (0, 1):
            h = 1e-4
            with torch.no_grad():
                vp = verts.detach().clone()
                vm = verts.detach().clone()
                vp[idx, ax] += h
                vm[idx, ax] -= h
                fd = float(loss(vp) - loss(vm)) / (2 * h)
            an = float(verts.grad[idx, ax])
            assert abs(an - fd) <= 1e-4 + 1e-3 * abs(fd), (idx, ax, an, fd)


def test_bad_input_is_refused() -> None:
    v = torch.zeros(6, 2)
    c = torch.ones(2, 4)
    with pytest.raises(ValueError, match="sum to the number"):
        pydiffvg.render_polygons(v, [3, 2], [0, 1], c, width=8, height=8)
    with pytest.raises(ValueError, match="non-decreasing"):
        pydiffvg.render_polygons(v, [3, 3], [1, 0], c, width=8, height=8)
    with pytest.raises(ValueError, match="non-decreasing"):
        pydiffvg.render_polygons(v, [3, 3], [0, 2], c, width=8, height=8)
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        pydiffvg.render_polygons(torch.zeros(6, 3), [3, 3], [0, 1], c, width=8, height=8)
    with pytest.raises(ValueError, match="positive integers"):
        pydiffvg.render_polygons(v, [3, 3], [0, 1], c, width=0, height=8)
    with pytest.raises(ValueError, match="non-finite"):
        pydiffvg.render_polygons(v * float("nan"), [3, 3], [0, 1], c, width=8, height=8)


def _gradient_paints(size: int, dtype: torch.dtype) -> dict[int, object]:
    """A linear gradient on group 0 (often the bottom, large) and a radial one on group 2."""
    return {
        0: pydiffvg.LinearGradient(
            torch.tensor([0.1 * size, 0.2 * size], dtype=dtype),
            torch.tensor([0.9 * size, 0.7 * size], dtype=dtype),
            torch.tensor([0.0, 1.0], dtype=dtype),
            torch.tensor([[0.9, 0.1, 0.2, 1.0], [0.1, 0.3, 0.9, 0.8]], dtype=dtype),
        ),
        2: pydiffvg.RadialGradient(
            torch.tensor([0.5 * size, 0.5 * size], dtype=dtype),
            torch.tensor([0.3 * size, 0.2 * size], dtype=dtype),
            torch.tensor([0.0, 0.4, 1.0], dtype=dtype),
            torch.tensor(
                [[1.0, 1.0, 0.0, 1.0], [0.0, 1.0, 0.5, 0.7], [0.2, 0.0, 0.8, 0.9]], dtype=dtype
            ),
        ),
    }


@pytest.mark.parametrize(
    ("seed", "chunk_entries", "route"),
    [(0, 1 << 22, "auto"), (4, 1 << 22, "sparse"), (4, 1 << 22, "stack"), (4, 600, "auto")],
)
def test_gradient_fills_match_render(seed: int, chunk_entries: int, route: str) -> None:
    # The vectorizer's photo scenes: flat polygons and a few gradient-filled ones, one
    # fast path. Same image and same gradients (vertices, colours, every gradient tensor)
    # as render() of the scene written as Polygons with gradient fills, rendered as sparse
    # entries (the reference); the fast path takes sparse entries, the tiled fill stack
    # or its own choice; a small chunk budget also covers the recomputed chunks.
    from pydiffvg import engine

    real_dense_box = engine._dense_box
    choose = {
        "auto": real_dense_box,
        "sparse": lambda *a, **k: None,
        "stack": lambda *a, **k: (0, 0, size - 1, size - 1),
    }
    size = 48 + 16 * seed
    loops, owner, colors_np, even_odd = _scene(seed, size)
    sizes = [len(lp) for lp in loops]
    paints = _gradient_paints(size, torch.float64)
    tensors = [t for p in paints.values() for t in vars(p).values()]
    for t in tensors:
        t.requires_grad_(True)
    target = torch.rand(
        size, size, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(1)
    )

    def grads(fast: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        verts = torch.tensor(np.concatenate(loops), dtype=torch.float64, requires_grad=True)
        colors = torch.tensor(colors_np, dtype=torch.float64, requires_grad=True)
        engine._dense_box = choose[route] if fast else choose["sparse"]  # type: ignore[assignment]
        if fast:
            img = pydiffvg.render_polygons(
                verts,
                sizes,
                owner,
                colors,
                width=size,
                height=size,
                even_odd=even_odd,
                gradient_fills=paints,
                chunk_entries=chunk_entries,
            )
        else:
            shapes = [
                pydiffvg.Polygon(verts[sum(sizes[:i]) : sum(sizes[: i + 1])], True)
                for i in range(len(loops))
            ]
            groups = [
                pydiffvg.ShapeGroup(
                    torch.tensor([i for i, o in enumerate(owner) if o == g], dtype=torch.int32),
                    paints.get(g, colors[g]),
                    use_even_odd_rule=even_odd[g],
                )
                for g in range(colors.shape[0])
            ]
            img = pydiffvg.render(
                shapes, groups, width=size, height=size, chunk_entries=chunk_entries
            )
        ((img - target) ** 2).sum().backward()
        found = [t.grad.clone() for t in tensors if t.grad is not None]
        for t in tensors:
            t.grad = None
        assert verts.grad is not None and colors.grad is not None
        return torch.cat([img.detach().reshape(-1), verts.grad.reshape(-1)]), found

    try:
        fast_out, fast_grads = grads(True)
        ref_out, ref_grads = grads(False)
    finally:
        engine._dense_box = real_dense_box  # type: ignore[assignment]
    # The stack skips layers under less than DEPTH_CUT of light (1e-5): that far apart.
    n = size * size * 4
    assert torch.allclose(fast_out[:n], ref_out[:n], atol=1e-6)
    scale = float(ref_out[n:].abs().max())
    assert torch.allclose(fast_out[n:], ref_out[n:], atol=1e-4 * scale)
    assert len(fast_grads) == len(tensors) == len(ref_grads)
    for f, r in zip(fast_grads, ref_grads, strict=True):
        assert torch.allclose(f, r, atol=1e-4 * max(float(r.abs().max()), 1.0))
    # The gradient fills were used: the flat colours of groups 0 and 2 would differ.
    flat = pydiffvg.render_polygons(
        torch.tensor(np.concatenate(loops), dtype=torch.float64),
        sizes,
        owner,
        torch.tensor(colors_np),
        width=size,
        height=size,
        even_odd=even_odd,
    )
    assert float((flat - fast_out[: size * size * 4].reshape(size, size, 4)).abs().max()) > 0.05


def test_bad_gradient_fills_are_refused() -> None:
    v = torch.tensor([[0.0, 0], [4, 0], [4, 4], [0, 0], [4, 4], [0, 4]])
    c = torch.ones(2, 4)
    paint = _gradient_paints(8, torch.float32)[0]
    with pytest.raises(ValueError, match="group indices below 2"):
        pydiffvg.render_polygons(v, [3, 3], [0, 1], c, width=8, height=8, gradient_fills={2: paint})
    with pytest.raises(TypeError, match="LinearGradient or RadialGradient"):
        pydiffvg.render_polygons(
            v,
            [3, 3],
            [0, 1],
            c,
            width=8,
            height=8,
            gradient_fills={0: c[0]},  # type: ignore[dict-item]
        )
