"""Forward rendering behaviour of pydiffvg: coverage, fill rules, compositing, API."""

from __future__ import annotations

import importlib
import math
import subprocess
import sys

import pytest
import torch

import pydiffvg
from pydiffvg.testing import random_scene


def square(
    x0: float, y0: float, x1: float, y1: float, *, reverse: bool = False
) -> pydiffvg.Polygon:
    pts = [[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
    if reverse:
        pts = pts[::-1]
    return pydiffvg.Polygon(torch.tensor(pts, dtype=torch.float32), True)


def solid(*rgba: float) -> torch.Tensor:
    return torch.tensor(rgba)


def test_public_api_is_explicit() -> None:
    for name in (
        "Path",
        "Polygon",
        "Rect",
        "Circle",
        "Ellipse",
        "ShapeGroup",
        "LinearGradient",
        "RadialGradient",
        "RenderFunction",
        "save_svg",
        "svg_to_scene",
        "imwrite",
        "render",
        "set_device",
        "get_device",
        "set_use_gpu",
        "get_use_gpu",
    ):
        assert name in pydiffvg.__all__
        assert hasattr(pydiffvg, name)


def test_device_selection_round_trip() -> None:
    before = pydiffvg.get_device()
    try:
        pydiffvg.set_use_gpu(False)
        assert pydiffvg.get_device() == torch.device("cpu")
        assert pydiffvg.get_use_gpu() is False
        pydiffvg.set_device("cpu")
        assert pydiffvg.get_device().type == "cpu"
        if not torch.cuda.is_available():
            with pytest.raises(RuntimeError):
                pydiffvg.set_use_gpu(True)
    finally:
        pydiffvg.set_device(before)


def test_rect_coverage_is_exact_area() -> None:
    rect = pydiffvg.Rect(torch.tensor([2.25, 3.5]), torch.tensor([10.75, 9.0]))
    group = pydiffvg.ShapeGroup(torch.tensor([0]), solid(1, 0, 0, 1))
    img = pydiffvg.render([rect], [group], width=16, height=16)
    assert img.shape == (16, 16, 4)
    alpha = img[..., 3]
    assert float(alpha.sum()) == pytest.approx(8.5 * 5.5, abs=1e-4)
    assert float(alpha[3, 2]) == pytest.approx(0.75 * 0.5)  # corner pixel
    assert float(alpha[5, 2]) == pytest.approx(0.75)
    assert float(alpha[5, 10]) == pytest.approx(0.75)
    assert float(alpha[9, 5]) == 0.0
    inside = alpha > 0
    assert torch.allclose(img[..., 0][inside], torch.ones(int(inside.sum())))


def test_circle_and_ellipse_area() -> None:
    circle = pydiffvg.Circle(torch.tensor(20.3), torch.tensor([32.1, 30.7]))
    ellipse = pydiffvg.Ellipse(torch.tensor([20.0, 10.0]), torch.tensor([32.0, 32.0]))
    for shape, area in ((circle, math.pi * 20.3**2), (ellipse, math.pi * 200.0)):
        g = pydiffvg.ShapeGroup(torch.tensor([0]), solid(0.2, 0.5, 1.0, 1.0))
        img = pydiffvg.render([shape], [g], width=64, height=64)
        assert float(img[..., 3].sum()) == pytest.approx(area, rel=2e-3)


def test_fill_rules_with_same_direction_hole() -> None:
    shapes = [square(4, 4, 28, 28), square(10, 10, 22, 22)]
    for even_odd, centre in ((True, 0.0), (False, 1.0)):
        g = pydiffvg.ShapeGroup(torch.tensor([0, 1]), solid(0, 0, 1, 1), use_even_odd_rule=even_odd)
        img = pydiffvg.render(shapes, [g], width=32, height=32)
        assert float(img[16, 16, 3]) == centre
        assert float(img[6, 6, 3]) == 1.0
        assert float(img[1, 1, 3]) == 0.0


def test_opposite_direction_hole_is_empty_under_both_rules() -> None:
    shapes = [square(4, 4, 28, 28), square(10, 10, 22, 22, reverse=True)]
    for even_odd in (True, False):
        g = pydiffvg.ShapeGroup(torch.tensor([0, 1]), solid(0, 0, 1, 1), use_even_odd_rule=even_odd)
        img = pydiffvg.render(shapes, [g], width=32, height=32)
        assert float(img[16, 16, 3]) == 0.0
        assert float(img[..., 3].sum()) == pytest.approx(24 * 24 - 12 * 12, abs=1e-3)


def test_painters_order_and_straight_alpha() -> None:
    shapes = [square(0, 0, 8, 8), square(4, 0, 12, 8)]
    groups = [
        pydiffvg.ShapeGroup(torch.tensor([0]), solid(0, 0, 1, 1)),
        pydiffvg.ShapeGroup(torch.tensor([1]), solid(1, 0, 0, 0.5)),
    ]
    img = pydiffvg.render(shapes, groups, width=12, height=8)
    assert torch.allclose(img[4, 1], torch.tensor([0.0, 0.0, 1.0, 1.0]), atol=1e-5)
    assert torch.allclose(img[4, 6], torch.tensor([0.5, 0.0, 0.5, 1.0]), atol=1e-5)
    # Over a transparent canvas the colour stays straight (not premultiplied).
    assert torch.allclose(img[4, 10], torch.tensor([1.0, 0.0, 0.0, 0.5]), atol=1e-5)


def test_background_is_composited_under_the_scene() -> None:
    shapes = [square(2, 2, 6, 6)]
    groups = [pydiffvg.ShapeGroup(torch.tensor([0]), solid(1, 0, 0, 0.5))]
    bg = torch.zeros(8, 8, 3)
    bg[..., 1] = 1.0
    img = pydiffvg.render(shapes, groups, width=8, height=8, background=bg)
    assert torch.allclose(img[4, 4], torch.tensor([0.5, 0.5, 0.0, 1.0]), atol=1e-5)
    assert torch.allclose(img[0, 0], torch.tensor([0.0, 1.0, 0.0, 1.0]))
    bg4 = torch.cat([bg, torch.full((8, 8, 1), 0.5)], dim=-1)
    img4 = pydiffvg.render(shapes, groups, width=8, height=8, background=bg4)
    assert float(img4[0, 0, 3]) == pytest.approx(0.5)
    assert float(img4[4, 4, 3]) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="background"):
        pydiffvg.render(shapes, groups, width=8, height=8, background=torch.zeros(4, 4, 3))


def test_stroke_coverage_matches_capsule_area() -> None:
    line = pydiffvg.Polygon(
        torch.tensor([[8.3, 16.2], [40.7, 16.9]]), False, stroke_width=torch.tensor(2.0)
    )
    g = pydiffvg.ShapeGroup(torch.tensor([0]), None, stroke_color=solid(0, 0, 0, 1))
    img = pydiffvg.render([line], [g], width=48, height=32)
    length = math.hypot(32.4, 0.7)
    assert float(img[..., 3].sum()) == pytest.approx(length * 4 + math.pi * 4, rel=0.01)
    assert float(img[16, 20, 3]) == 1.0
    assert float(img[25, 20, 3]) == 0.0


def test_stroke_is_painted_over_fill() -> None:
    rect = pydiffvg.Rect(
        torch.tensor([4.0, 4.0]), torch.tensor([28.0, 28.0]), stroke_width=torch.tensor(2.0)
    )
    g = pydiffvg.ShapeGroup(torch.tensor([0]), solid(0, 0, 1, 1), stroke_color=solid(1, 0, 0, 1))
    img = pydiffvg.render([rect], [g], width=32, height=32)
    assert torch.allclose(
        img[16, 4], torch.tensor([1.0, 0.0, 0.0, 1.0]), atol=1e-5
    )  # on the outline
    assert torch.allclose(img[16, 16], torch.tensor([0.0, 0.0, 1.0, 1.0]), atol=1e-5)


def test_linear_and_radial_gradients() -> None:
    rect = pydiffvg.Rect(torch.tensor([0.0, 0.0]), torch.tensor([32.0, 8.0]))
    lin = pydiffvg.LinearGradient(
        torch.tensor([0.0, 0.0]),
        torch.tensor([32.0, 0.0]),
        torch.tensor([0.0, 1.0]),
        torch.tensor([[1.0, 0, 0, 1], [0, 0, 1, 1]]),
    )
    img = pydiffvg.render([rect], [pydiffvg.ShapeGroup(torch.tensor([0]), lin)], width=32, height=8)
    assert torch.allclose(img[4, 0], torch.tensor([31.5 / 32, 0, 0.5 / 32, 1]), atol=1e-5)
    assert torch.allclose(img[4, 16], torch.tensor([15.5 / 32, 0, 16.5 / 32, 1]), atol=1e-5)
    rad = pydiffvg.RadialGradient(
        torch.tensor([16.0, 4.0]),
        torch.tensor([8.0, 8.0]),
        torch.tensor([0.0, 1.0]),
        torch.tensor([[1.0, 1, 1, 1], [0, 0, 0, 1]]),
    )
    img = pydiffvg.render([rect], [pydiffvg.ShapeGroup(torch.tensor([0]), rad)], width=32, height=8)
    assert float(img[4, 0, 0]) == 0.0  # beyond the radius: last stop
    assert float(img[4, 16, 0]) == pytest.approx(1 - math.hypot(0.5, 0.5) / 8, abs=1e-5)


def test_render_function_matches_render_and_scales() -> None:
    # Over a background image every sample is covered: DiffVG's convention and ours agree.
    shapes, groups = random_scene(3, width=48, height=48, num_shapes=6)
    args = pydiffvg.RenderFunction.serialize_scene(48, 48, shapes, groups)
    white = torch.ones(48, 48, 3)
    old = pydiffvg.get_device()
    pydiffvg.set_device("cpu")
    try:
        a = pydiffvg.RenderFunction.apply(48, 48, 2, 2, 0, white, *args)
        big = pydiffvg.RenderFunction.apply(96, 96, 2, 2, 0, torch.ones(96, 96, 3), *args)
    finally:
        pydiffvg.set_device(old)
    b = pydiffvg.render(shapes, groups, width=48, height=48, background=white)
    assert torch.allclose(a, b)
    # Twice the resolution: a 2x2 box-downsample gives back the 1x image closely.
    down = torch.nn.functional.avg_pool2d(big.permute(2, 0, 1)[None], 2)[0]
    assert float((down - b.permute(2, 0, 1)).abs().mean()) < 5e-3


def test_render_function_uses_diffvg_colour_convention() -> None:
    # Over a transparent canvas DiffVG averages the straight colours of the samples (zero
    # where nothing covers them): colour = straight colour x covered share, alpha = the
    # composited opacity. For opaque paints that is the premultiplied colour.
    tri = pydiffvg.Polygon(torch.tensor([[3.3, 2.2], [28.7, 9.1], [11.6, 29.4]]), True)
    tri.points.requires_grad_(True)
    for alpha in (1.0, 0.5):
        paint = torch.tensor([0.9, 0.4, 0.2, alpha], requires_grad=True)
        groups = [pydiffvg.ShapeGroup(torch.tensor([0]), paint)]
        args = pydiffvg.RenderFunction.serialize_scene(32, 32, [tri], groups)
        out = pydiffvg.RenderFunction.apply(32, 32, 2, 2, 0, None, *args)
        ours = pydiffvg.render([tri], groups, width=32, height=32)
        covered = ours[..., 3] / alpha
        assert torch.allclose(out[..., 3], ours[..., 3])
        assert torch.allclose(out[..., :3], ours[..., :3] * covered[..., None], atol=1e-6)
        edge = (covered > 0.05) & (covered < 0.95)
        assert int(edge.sum()) > 10
        # At an edge pixel the colour is the paint's, scaled by the share covered.
        ratio = out[..., 0][edge] / covered[edge]
        assert torch.allclose(ratio, torch.full_like(ratio, 0.9), atol=1e-5)
        points_grad, paint_grad = torch.autograd.grad(out.sum(), [tri.points, paint])
        assert float(points_grad.abs().sum()) > 0 and float(paint_grad[:3].abs().sum()) > 0


def test_chunked_rendering_matches_single_pass() -> None:
    shapes, groups = random_scene(5, width=64, height=64, num_shapes=30)
    for s in shapes:
        s.points.requires_grad_(True)
    full = pydiffvg.render(shapes, groups, width=64, height=64)
    (g_full,) = torch.autograd.grad(full.square().sum(), [shapes[0].points])
    chunked = pydiffvg.render(shapes, groups, width=64, height=64, chunk_entries=2000)
    (g_chunk,) = torch.autograd.grad(chunked.square().sum(), [shapes[0].points])
    assert torch.allclose(full, chunked, atol=1e-5)
    assert torch.allclose(g_full, g_chunk, atol=1e-4)


def _painted_scene() -> tuple[list[pydiffvg.Shape], list[pydiffvg.ShapeGroup], list[torch.Tensor]]:
    """Overlapping squares with linear/radial gradient fills and a stroke: chunks that are
    recomputed in backward (not the solid-fill stack)."""
    shapes = [square(4 + 5 * i, 6 + 3 * i, 30 + 5 * i, 34 + 3 * i) for i in range(6)]
    groups, params = [], []
    for i, shape in enumerate(shapes):
        shape.points.requires_grad_(True)
        stops = torch.tensor([[1.0, 0.2, 0.1, 0.9], [0.1, 0.3, 1.0, 0.7]], requires_grad=True)
        if i % 2:
            paint = pydiffvg.RadialGradient(
                torch.tensor([20.0 + i, 20.0], requires_grad=True),
                torch.tensor([14.0, 10.0], requires_grad=True),
                torch.tensor([0.0, 1.0]),
                stops,
            )
            extra = [paint.center, paint.radius]
        else:
            paint = pydiffvg.LinearGradient(
                torch.tensor([4.0, 6.0], requires_grad=True),
                torch.tensor([40.0, 30.0 + i], requires_grad=True),
                torch.tensor([0.0, 1.0]),
                stops,
            )
            extra = [paint.begin, paint.end]
        shape.stroke_width = torch.tensor(1.5, requires_grad=True)
        stroke = solid(0.1, 0.1, 0.1, 1.0).requires_grad_(True)
        groups.append(
            pydiffvg.ShapeGroup(torch.tensor([i]), paint, stroke_color=stroke if i == 2 else None)
        )
        params += [shape.points, stops, *extra, shape.stroke_width, stroke]
    return shapes, groups, params


def test_recomputed_chunks_match_one_pass_for_every_parameter() -> None:
    shapes, groups, params = _painted_scene()
    full = pydiffvg.render(shapes, groups, width=48, height=48)
    g_full = torch.autograd.grad(full.square().sum(), params, allow_unused=True)
    chunked = pydiffvg.render(shapes, groups, width=48, height=48, chunk_entries=1500)
    g_chunk = torch.autograd.grad(chunked.square().sum(), params, allow_unused=True)
    assert torch.allclose(full, chunked, atol=1e-5)
    compared = 0
    for a, b in zip(g_full, g_chunk, strict=True):
        assert (a is None) == (b is None)
        if a is not None:
            assert torch.allclose(a, b, atol=1e-4, rtol=1e-4)
            compared += int(a.abs().sum() > 0)
    assert compared >= 20  # points, stops, gradient geometry and the stroke all carry gradients


def test_recomputed_chunks_do_not_load_torch_dynamo() -> None:
    # torch.utils.checkpoint imports torch._dynamo on first use: seconds in every worker.
    code = """
import sys, torch, pydiffvg
shapes = [pydiffvg.Polygon(torch.tensor([[2.0 + i, 2], [40, 3.0 + i], [30, 40]]), True)
          for i in range(8)]
for s in shapes:
    s.points.requires_grad_(True)
    s.stroke_width = torch.tensor(2.0)
groups = [pydiffvg.ShapeGroup(torch.tensor([i]), torch.tensor([1.0, 0, 0, 0.5]),
                              stroke_color=torch.tensor([0, 0, 1.0, 1]))
          for i in range(8)]
pydiffvg.render(shapes, groups, width=48, height=48, chunk_entries=1000).sum().backward()
assert shapes[0].points.grad.abs().sum() > 0
print("dynamo" if "torch._dynamo" in sys.modules else "clean")
"""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=300
    )
    assert out.stdout.strip() == "clean", out.stdout + out.stderr


def test_offcanvas_and_empty_scenes() -> None:
    img = pydiffvg.render([], [], width=8, height=4)
    assert torch.equal(img, torch.zeros(4, 8, 4))
    far = [square(-50, -50, -10, -10), square(-20, 2, 4, 6)]  # second one straddles x=0
    groups = [
        pydiffvg.ShapeGroup(torch.tensor([0]), solid(1, 1, 1, 1)),
        pydiffvg.ShapeGroup(torch.tensor([1]), solid(1, 1, 1, 1)),
    ]
    img = pydiffvg.render(far, groups, width=8, height=8)
    assert float(img[..., 3].sum()) == pytest.approx(4 * 4)


def test_bad_input_raises_clear_errors() -> None:
    with pytest.raises(ValueError, match="needs 6 points, got 5"):
        pydiffvg.Path(torch.tensor([2, 2]), torch.zeros(5, 2), True)
    with pytest.raises(ValueError, match="0, 1 or 2"):
        pydiffvg.Path(torch.tensor([3]), torch.zeros(5, 2), False)
    with pytest.raises(ValueError, match="RGBA"):
        pydiffvg.ShapeGroup(torch.tensor([0]), torch.tensor([1.0, 0.0, 0.0]))
    shapes = [square(0, 0, 4, 4)]
    with pytest.raises(IndexError, match="refers to shape 3"):
        pydiffvg.render(
            shapes, [pydiffvg.ShapeGroup(torch.tensor([3]), solid(1, 1, 1, 1))], width=4, height=4
        )
    with pytest.raises(ValueError, match="width and height"):
        pydiffvg.render(shapes, [], width=0, height=4)
    bad = pydiffvg.Polygon(torch.tensor([[0.0, 0.0], [float("nan"), 1.0], [2.0, 2.0]]), True)
    with pytest.raises(ValueError, match="non-finite"):
        pydiffvg.render(
            [bad], [pydiffvg.ShapeGroup(torch.tensor([0]), solid(1, 1, 1, 1))], width=4, height=4
        )
    with pytest.raises(ValueError, match="malformed"):
        pydiffvg.RenderFunction.apply(4, 4, 2, 2, 0, None, 4, 4, 1, 0, "bogus")


def test_float64_rendering_keeps_dtype() -> None:
    shapes, groups = random_scene(1, width=32, height=32, num_shapes=4, dtype=torch.float64)
    img = pydiffvg.render(shapes, groups, width=32, height=32)
    assert img.dtype == torch.float64
    img32 = pydiffvg.render(shapes, groups, width=32, height=32, dtype=torch.float32)
    assert torch.allclose(img.float(), img32, atol=1e-4)


def test_dense_and_sparse_layouts_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    render_module = importlib.import_module("pydiffvg.engine")

    shapes, groups = random_scene(9, width=48, height=48, num_shapes=6, size=40.0, strokes=False)
    groups[1].fill_color = pydiffvg.LinearGradient(
        torch.tensor([0.0, 0.0]),
        torch.tensor([48.0, 10.0]),
        torch.tensor([0.0, 1.0]),
        torch.tensor([[1.0, 0, 0, 1], [0, 0, 1, 0.5]]),
    )
    params = [s.points.requires_grad_(True) for s in shapes]
    boxes: list[object] = []
    real = render_module._dense_box

    def spy(*args: object, **kwargs: object) -> object:
        boxes.append(real(*args, **kwargs))
        return boxes[-1]

    monkeypatch.setattr(render_module, "_dense_box", spy)
    dense = pydiffvg.render(shapes, groups, width=48, height=48)
    assert boxes and boxes[0] is not None  # large shapes: the dense layout was used
    g_dense = torch.autograd.grad(dense.square().sum(), params)
    monkeypatch.setattr(render_module, "_dense_box", lambda *a, **k: None)
    sparse = pydiffvg.render(shapes, groups, width=48, height=48)
    g_sparse = torch.autograd.grad(sparse.square().sum(), params)
    assert torch.allclose(dense, sparse, atol=1e-5)
    for x, y in zip(g_dense, g_sparse, strict=True):
        assert torch.allclose(x, y, atol=1e-3)


def test_dense_layout_with_strokes_matches_sparse(monkeypatch: pytest.MonkeyPatch) -> None:
    render_module = importlib.import_module("pydiffvg.engine")
    shapes: list[pydiffvg.Path | pydiffvg.Polygon] = [
        square(-2 + i, -3 + 2 * i, 30 - i, 29 - i) for i in range(3)
    ]
    for i, s in enumerate(shapes):
        s.stroke_width = torch.tensor(0.8 + 0.5 * i)
        s.points.requires_grad_(True)
    groups = [
        pydiffvg.ShapeGroup(
            torch.tensor([i]),
            solid(0.2 * i, 0.5, 0.9, 0.6),
            stroke_color=solid(0.9, 0.1 * i, 0.2, 0.8),
        )
        for i in range(3)
    ]
    boxes: list[object] = []
    real = render_module._dense_box
    monkeypatch.setattr(
        render_module, "_dense_box", lambda *a, **k: boxes.append(real(*a, **k)) or boxes[-1]
    )
    dense = pydiffvg.render(shapes, groups, width=28, height=28)
    assert boxes[0] is not None
    g_dense = torch.autograd.grad(dense.square().sum(), [s.points for s in shapes])
    monkeypatch.setattr(render_module, "_dense_box", lambda *a, **k: None)
    sparse = pydiffvg.render(shapes, groups, width=28, height=28)
    g_sparse = torch.autograd.grad(sparse.square().sum(), [s.points for s in shapes])
    assert torch.allclose(dense, sparse, atol=1e-5)
    for x, y in zip(g_dense, g_sparse, strict=True):
        assert torch.allclose(x, y, rtol=1e-2, atol=1e-3)  # float32 sums in both layouts
