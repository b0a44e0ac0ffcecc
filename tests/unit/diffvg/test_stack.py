"""The edge-driven stack of solid fills (pydiffvg.stack) against the autograd reference
(dense area coverage + closed-form compositing), finite differences and gradcheck."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

import pytest
import torch

import pydiffvg
from pydiffvg import stack
from pydiffvg.geometry import flatten_scene
from pydiffvg.raster import composite_dense, fill_dense
from pydiffvg.stack import fill_stack
from pydiffvg.testing import blob_path, random_scene
from tools.testing.diffvg import cosine

F64 = torch.float64


def _reference(
    pieces: tuple[torch.Tensor, ...], colors: torch.Tensor, **kw: Any
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The previous dense engine: autograd through area coverage and compositing."""
    cov = fill_dense(*pieces, **kw)
    color, cover, logt = composite_dense(cov * colors[:, 3:4], colors[:, :3], {})
    x0, y0, x1, y1 = kw["box"]
    width = kw["width"]
    ys = torch.arange(y0, y1 + 1)
    xs = torch.arange(x0, x1 + 1)
    pixels = (ys[:, None] * width + xs[None, :]).reshape(-1)
    full = color.new_zeros((width * kw["height"], 5))
    full = full.index_copy(0, pixels, torch.cat([color, cover[:, None], logt[:, None]], 1))
    return full[:, :3], full[:, 3], full[:, 4]


def _scene(
    seed: int, size: int, count: int, radius: float, dtype: torch.dtype = torch.float32
) -> tuple[list[torch.Tensor], Callable[..., tuple[torch.Tensor, ...]], torch.Tensor, torch.Tensor]:
    """``count`` blobs (some partly off the canvas, some with holes, mixed fill rules):
    their points (leaves), a function from points to pieces ``(a, b, group)``, the fill
    rules and the colours (opaque and translucent)."""
    shapes, groups = random_scene(
        seed, width=size, height=size, num_shapes=count, size=radius, strokes=False, dtype=dtype
    )
    points = [s.points.detach().requires_grad_(True) for s in shapes]  # type: ignore[union-attr]

    def pieces(*pts: torch.Tensor) -> tuple[torch.Tensor, ...]:
        for s, p in zip(shapes, pts, strict=True):
            s.points = p  # type: ignore[union-attr]
        flat = flatten_scene(shapes, groups, device=torch.device("cpu"), dtype=dtype)
        return flat.a, flat.b, flat.group

    colors = torch.stack([g.fill_color for g in groups]).detach()  # type: ignore[misc]
    even_odd = torch.tensor([g.use_even_odd_rule for g in groups])
    if count >= 4:
        assert bool(even_odd.any()) and not bool(even_odd.all())  # both rules are exercised
    return points, pieces, even_odd, colors


def _loss(out: tuple[torch.Tensor, torch.Tensor, torch.Tensor], size: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(5)
    target = torch.rand(size * size, 5, generator=gen, dtype=out[0].dtype)
    flat = torch.cat([out[0], out[1][:, None], out[2][:, None]], dim=1)
    return ((flat - target) ** 2).sum()


@pytest.mark.parametrize(
    ("box", "tile"),
    [((0, 0, 39, 39), 16), ((5, 3, 33, 37), 16), ((0, 0, 39, 39), 5), ((2, 1, 38, 39), 3)],
    ids=["canvas", "partial-box", "small-tiles", "partial-box-small-tiles"],
)
def test_stack_matches_reference_values_and_gradients(
    box: tuple[int, int, int, int], tile: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stack, "TILE", tile)
    monkeypatch.setattr(stack, "SMALL_TILE", tile)
    monkeypatch.setattr(stack, "DEPTH_CUT", 0.0)  # every layer: exact against the reference
    size = 40
    # float64: the previous engine's float32 log(1 - a) of opaque layers is itself noisy.
    points, pieces, even_odd, colors = _scene(3, size, 7, radius=18.0, dtype=F64)
    colors.requires_grad_(True)
    kw = {"even_odd": even_odd, "box": box, "width": size, "height": size}
    ours = fill_stack(*pieces(*points), colors=colors, **kw)  # type: ignore[arg-type]
    ref = _reference(pieces(*points), colors, **kw)
    for x, y in zip(ours, ref, strict=True):
        assert torch.allclose(x, y, rtol=1e-9, atol=1e-9)
    assert float(ours[1].detach().max()) > 0.9  # the scene really paints the box
    g_ours = torch.autograd.grad(_loss(ours, size), [*points, colors])
    g_ref = torch.autograd.grad(_loss(ref, size), [*points, colors])
    scale = max(float(g.abs().max()) for g in g_ref)
    for x, y in zip(g_ours, g_ref, strict=True):
        assert torch.allclose(x, y, rtol=1e-6, atol=1e-7 * scale)


def test_stack_gradcheck_float64() -> None:
    size = 12
    points, pieces, even_odd, colors = _scene(11, size, 4, radius=6.0, dtype=F64)
    colors = colors.clamp(max=0.95).requires_grad_(True)  # opacity off the clamp's kink

    def fn(c_: torch.Tensor, *pts: torch.Tensor) -> torch.Tensor:
        out = fill_stack(
            *pieces(*pts),
            even_odd=even_odd,
            colors=c_,
            box=(0, 0, size - 1, size - 1),
            width=size,
            height=size,
        )
        return torch.cat([out[0].reshape(-1), out[1], out[2]])

    assert torch.autograd.gradcheck(
        fn, (colors, *points), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True
    )


def test_canvas_sized_blobs_take_the_stack_and_match_finite_differences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = importlib.import_module("pydiffvg.engine")
    used: list[object] = []
    real = engine.fill_stack
    monkeypatch.setattr(
        engine, "fill_stack", lambda *a, **k: used.append(k["box"]) or real(*a, **k)
    )
    size = 24
    gen = torch.Generator().manual_seed(2)
    shapes, groups = [], []
    for i in range(5):  # canvas-sized, overlapping, partly off-canvas, one even-odd hole
        centre = torch.rand(2, generator=gen, dtype=F64) * size
        shapes.append(blob_path(centre, 0.6 * size, generator=gen, dtype=F64))
        ids = [len(shapes) - 1]
        if i == 2:
            shapes.append(blob_path(centre, 0.2 * size, generator=gen, dtype=F64))
            ids.append(len(shapes) - 1)
        colour = torch.rand(4, generator=gen, dtype=F64)
        colour[3] = 0.3 + 0.6 * colour[3]
        groups.append(pydiffvg.ShapeGroup(torch.tensor(ids), colour, use_even_odd_rule=i == 2))
    params = [s.points.requires_grad_(True) for s in shapes]  # type: ignore[union-attr]
    colours = [g.fill_color.requires_grad_(True) for g in groups]  # type: ignore[union-attr]
    target = torch.rand(size, size, 4, generator=gen, dtype=F64)

    def loss() -> torch.Tensor:
        return ((pydiffvg.render(shapes, groups, width=size, height=size) - target) ** 2).sum()

    value = loss()
    assert used  # the scene went through the stack
    grads = torch.autograd.grad(value, params + colours)
    ours, fd = [], []
    with torch.no_grad():
        for p, g in zip(params + colours, grads, strict=True):
            flat = p.view(-1)
            for i in range(flat.numel()):
                keep = float(flat[i])
                flat[i] = keep + 1e-4
                up = float(loss())
                flat[i] = keep - 1e-4
                down = float(loss())
                flat[i] = keep
                fd.append((up - down) / 2e-4)
                ours.append(float(g.reshape(-1)[i]))
    assert cosine(torch.tensor(ours), torch.tensor(fd)) > 0.999


def test_stack_matches_sparse_entries_through_render(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = importlib.import_module("pydiffvg.engine")
    shapes, groups = random_scene(4, width=48, height=48, num_shapes=12, size=30.0, strokes=False)
    params = [s.points.requires_grad_(True) for s in shapes]  # type: ignore[union-attr]
    colours = [g.fill_color.requires_grad_(True) for g in groups]  # type: ignore[union-attr]
    stacked = pydiffvg.render(shapes, groups, width=48, height=48)
    g_stack = torch.autograd.grad(stacked.square().sum(), params + colours)
    monkeypatch.setattr(engine, "_dense_box", lambda *a, **k: None)
    sparse = pydiffvg.render(shapes, groups, width=48, height=48)
    g_sparse = torch.autograd.grad(sparse.square().sum(), params + colours)
    assert torch.allclose(stacked, sparse, atol=1e-4)
    assert (
        cosine(
            torch.cat([g.reshape(-1) for g in g_stack]),
            torch.cat([g.reshape(-1) for g in g_sparse]),
        )
        > 0.9999
    )


def test_layered_polygons_put_the_canvas_sized_bottom_in_the_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    engine = importlib.import_module("pydiffvg.engine")
    used: list[object] = []
    real = engine.fill_stack
    monkeypatch.setattr(
        engine, "fill_stack", lambda *a, **k: used.append(k["box"]) or real(*a, **k)
    )
    size = 40
    gen = torch.Generator().manual_seed(8)
    loops, sizes = [], []
    for i in range(16):  # 4 canvas-sized polygons under 12 small ones
        n = 20 + 3 * i
        radius = 0.5 * size if i < 4 else 3.0
        centre = torch.rand(2, generator=gen) * size
        ang = torch.sort(torch.rand(n, generator=gen) * 2 * torch.pi).values
        r = radius * (0.7 + 0.3 * torch.rand(n, generator=gen))
        loops.append(centre + torch.stack([r * torch.cos(ang), r * torch.sin(ang)], 1))
        sizes.append(n)
    verts = torch.cat(loops).requires_grad_(True)
    colours = torch.rand(16, 4, generator=gen)
    colours[:, 3] = 1.0
    colours.requires_grad_(True)

    def draw() -> torch.Tensor:
        return pydiffvg.render_polygons(
            verts, sizes, list(range(16)), colours, width=size, height=size
        )

    layered = draw()
    assert len(used) == 1  # the bottom run alone went through the stack
    g_layered = torch.autograd.grad(layered.square().sum(), [verts, colours])
    monkeypatch.setattr(engine, "_dense_box", lambda *a, **k: None)
    sparse = draw()
    g_sparse = torch.autograd.grad(sparse.square().sum(), [verts, colours])
    assert torch.allclose(layered, sparse, atol=1e-4)
    for x, y in zip(g_layered, g_sparse, strict=True):
        assert cosine(x, y) > 0.9999


def test_depth_cut_changes_no_pixel_by_more_than_its_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    size = 96
    gen = torch.Generator().manual_seed(6)
    shapes, groups = [], []
    for i in range(40):  # canvas-sized, translucent and opaque, deep enough to be cut
        centre = torch.rand(2, generator=gen, dtype=F64) * size
        shapes.append(blob_path(centre, 0.6 * size, generator=gen, dtype=F64))
        colour = torch.rand(4, generator=gen, dtype=F64)
        colour[3] = 1.0 if i % 2 == 0 else 0.4 + 0.5 * colour[3]
        groups.append(pydiffvg.ShapeGroup(torch.tensor([i]), colour.requires_grad_(True)))
    params = [s.points.requires_grad_(True) for s in shapes]  # type: ignore[union-attr]
    colours = [g.fill_color for g in groups]

    def draw() -> tuple[torch.Tensor, list[torch.Tensor]]:
        img = pydiffvg.render(shapes, groups, width=size, height=size)
        return img, list(torch.autograd.grad(img.square().sum(), params + colours))

    counts: list[tuple[int, int]] = []
    real = stack._cut

    def counting_cut(pairs: Any, *args: Any) -> Any:
        kept = real(pairs, *args)
        counts.append((pairs.key.numel(), kept.key.numel()))
        return kept

    monkeypatch.setattr(stack, "_cut", counting_cut)
    cut, g_cut = draw()
    assert counts and counts[0][1] < 0.7 * counts[0][0]  # the cut really drops layers
    monkeypatch.setattr(stack, "DEPTH_CUT", 0.0)
    exact, g_exact = draw()

    # Straight colour divides by alpha: compare premultiplied values.
    def pm(x: torch.Tensor) -> torch.Tensor:
        return torch.cat([x[..., :3] * x[..., 3:], x[..., 3:]], -1)

    assert float((pm(cut) - pm(exact)).detach().abs().max()) <= 2e-5  # DEPTH_CUT, with margin
    flat_cut = torch.cat([g.reshape(-1) for g in g_cut])
    flat_exact = torch.cat([g.reshape(-1) for g in g_exact])
    assert cosine(flat_cut, flat_exact) > 0.9999
    # Every derivative, the opacity of the opaque layers that end a tile included (it
    # sees the light below them): each pixel's derivative moves by at most DEPTH_CUT, so
    # the loss's by at most 2 * 4 channels * pixels * DEPTH_CUT (largest derivative:
    # thousands). Cutting under the first opaque layer missed by thousands.
    bound = 2 * 4 * size * size * 1e-5
    assert float((flat_cut - flat_exact).abs().max()) <= bound


def test_outlines_without_height_paint_nothing() -> None:
    # Only horizontal pieces: no fragment anywhere, yet their boxes hold candidate tiles.
    a = torch.tensor([[2.0, 5.0], [30.0, 5.0], [2.0, 9.0], [30.0, 9.0]])
    b = torch.tensor([[30.0, 5.0], [2.0, 5.0], [30.0, 9.0], [2.0, 9.0]])
    out = fill_stack(
        a,
        b,
        torch.tensor([0, 0, 1, 1]),
        even_odd=torch.tensor([False, True]),
        colors=torch.rand(2, 4),
        box=(0, 0, 31, 31),
        width=32,
        height=32,
    )
    assert all(float(o.abs().sum()) == 0.0 for o in out)
