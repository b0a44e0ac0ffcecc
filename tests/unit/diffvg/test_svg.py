"""SVG writer and reader."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import pydiffvg
from pydiffvg.testing import random_scene
from tools.testing.diffvg import resvg_render


def _render_svg(svg: str, size: int = 48) -> torch.Tensor:
    width, height, shapes, groups = pydiffvg.svg_to_scene(svg)
    assert (width, height) == (size, size)
    return pydiffvg.render(shapes, groups, width=width, height=height)


def _doc(body: str, size: int = 48) -> str:
    return f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}">{body}</svg>'


def test_round_trip_preserves_the_image(tmp_path: Path) -> None:
    shapes, groups = random_scene(2, width=64, height=64, num_shapes=12)
    groups.append(
        pydiffvg.ShapeGroup(
            torch.tensor([0]),
            pydiffvg.LinearGradient(
                torch.tensor([0.0, 0.0]),
                torch.tensor([64.0, 30.0]),
                torch.tensor([0.0, 0.4, 1.0]),
                torch.tensor([[1.0, 0, 0, 1], [0, 1, 0, 0.5], [0, 0, 1, 1]]),
            ),
        )
    )
    shapes.append(pydiffvg.Circle(torch.tensor(9.5), torch.tensor([20.0, 40.0])))
    groups.append(
        pydiffvg.ShapeGroup(
            torch.tensor([len(shapes) - 1]),
            pydiffvg.RadialGradient(
                torch.tensor([20.0, 40.0]),
                torch.tensor([9.0, 5.0]),
                torch.tensor([0.0, 1.0]),
                torch.tensor([[1.0, 1, 0, 1], [0, 0, 1, 1]]),
            ),
        )
    )
    path = tmp_path / "scene.svg"
    pydiffvg.save_svg(str(path), 64, 64, shapes, groups)
    width, height, shapes2, groups2 = pydiffvg.svg_to_scene(str(path))
    assert (width, height) == (64, 64)
    assert len(groups2) == len(groups)
    a = pydiffvg.render(shapes, groups, width=64, height=64)
    b = pydiffvg.render(shapes2, groups2, width=64, height=64)
    a = torch.cat([a[..., :3] * a[..., 3:], a[..., 3:]], dim=-1)
    b = torch.cat([b[..., :3] * b[..., 3:], b[..., 3:]], dim=-1)
    assert float((a - b).abs().max()) < 0.01  # colours are written with 8 bits


def test_relative_and_shorthand_commands_match_absolute_ones() -> None:
    absolute = (
        "M 10 10 L 30 10 L 30 20 C 30 30 20 38 10 38 C 0 38 6 30 6 24 Q 2 18 8 14 Q 14 10 10 10 Z"
    )
    relative = "m 10 10 h 20 v 10 c 0 10 -10 18 -20 18 s -4 -8 -4 -14 q -4 -6 2 -10 t 2 -4 z"
    a = _render_svg(_doc(f'<path d="{absolute}" fill="#ff0000"/>'))
    b = _render_svg(_doc(f'<path d="{relative}" fill="#ff0000"/>'))
    assert float(a[..., 3].sum()) > 500
    assert torch.allclose(a, b, atol=1e-4)


def test_arc_command_draws_a_circle() -> None:
    img = _render_svg(_doc('<path d="M 34 24 A 10 10 0 1 1 14 24 A 10 10 0 1 1 34 24 Z"/>'))
    assert float(img[..., 3].sum()) == pytest.approx(math.pi * 100, rel=2e-3)


def test_transforms_and_inherited_styles() -> None:
    svg = _doc(
        '<g fill="blue" transform="translate(10 5)">'
        '<rect x="0" y="0" width="10" height="10" transform="scale(2)"/>'
        '<g transform="rotate(90 5 5)" fill-opacity="0.5" style="fill:rgb(255,0,0)">'
        '<polygon points="0,20 4,20 4,30 0,30"/></g></g>'
    )
    width, height, shapes, groups = pydiffvg.svg_to_scene(svg)
    assert isinstance(shapes[0], pydiffvg.Rect)
    assert shapes[0].p_min.tolist() == [10.0, 5.0]
    assert shapes[0].p_max.tolist() == [30.0, 25.0]
    assert torch.allclose(groups[0].fill_color, torch.tensor([0.0, 0.0, 1.0, 1.0]))
    # rotate(90) about (5, 5) maps (x, y) -> (10 - y, x), then translate(10, 5).
    pts = shapes[1].points
    assert torch.allclose(pts[0], torch.tensor([0.0, 5.0]), atol=1e-5)
    assert torch.allclose(pts[2], torch.tensor([-10.0, 9.0]), atol=1e-5)
    assert torch.allclose(groups[1].fill_color, torch.tensor([1.0, 0.0, 0.0, 0.5]))
    img = pydiffvg.render(shapes, groups, width=width, height=height)
    assert torch.allclose(img[15, 20], torch.tensor([0.0, 0.0, 1.0, 1.0]), atol=1e-5)


def test_reader_handles_strokes_rules_and_viewbox() -> None:
    svg = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 24 24">'
        '<path d="M2 2H22V22H2ZM6 6H18V18H6Z" fill-rule="evenodd" fill="#0f0" '
        'stroke="#000" stroke-width="1" stroke-opacity=".5"/></svg>'
    )
    width, height, shapes, groups = pydiffvg.svg_to_scene(svg)
    assert len(shapes) == 2 and len(groups) == 1
    assert groups[0].use_even_odd_rule
    assert float(shapes[0].stroke_width) == pytest.approx(1.0)  # half of 1 * scale 2
    assert float(groups[0].stroke_color[3]) == pytest.approx(0.5)
    ours = pydiffvg.render(shapes, groups, width=width, height=height).double().numpy()
    ref = resvg_render(svg, 48, 48)
    assert abs(ours[..., 3].mean() - ref[..., 3].mean()) < 0.01


def test_reader_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="not an SVG"):
        pydiffvg.svg_to_scene("<html></html>")
    with pytest.raises(ValueError, match="unsupported colour"):
        pydiffvg.svg_to_scene(_doc('<rect width="4" height="4" fill="notacolour"/>'))
    with pytest.raises(ValueError, match="needs 2 numbers"):
        pydiffvg.svg_to_scene(_doc('<path d="M 1 2 L 3"/>'))


def test_imwrite_and_imread_round_trip(tmp_path: Path) -> None:
    img = torch.rand(8, 10, 4)
    target = tmp_path / "sub" / "img.png"
    pydiffvg.imwrite(img, str(target), gamma=1.0)
    back = pydiffvg.imread(str(target), gamma=1.0)
    assert back.shape == (8, 10, 4)
    assert torch.allclose(back, img, atol=1 / 255)
