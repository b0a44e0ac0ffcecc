"""The same forward and gradient checks on CUDA (skipped without a GPU)."""

from __future__ import annotations

import pytest
import torch

import pydiffvg
from pydiffvg.testing import random_scene
from tools.testing.diffvg import compare_with_resvg, cosine

pytestmark = pytest.mark.gpu

CUDA = torch.device("cuda")


def _to(shapes: list, groups: list, device: torch.device) -> None:
    for s in shapes:
        s.points = s.points.to(device)
        s.stroke_width = s.stroke_width.to(device)
    for g in groups:
        if isinstance(g.fill_color, torch.Tensor):
            g.fill_color = g.fill_color.to(device)
        if isinstance(g.stroke_color, torch.Tensor):
            g.stroke_color = g.stroke_color.to(device)


def _premultiplied(img: torch.Tensor) -> torch.Tensor:
    return torch.cat([img[..., :3] * img[..., 3:], img[..., 3:]], dim=-1)


@pytest.mark.parametrize("index", range(8))
def test_cuda_forward_matches_resvg_and_cpu(index: int) -> None:
    size = (64, 128, 256, 512)[index % 4]
    count = (1, 10, 100, 1000)[index % 4]
    shapes, groups = random_scene(index, width=size, height=size, num_shapes=count)
    cpu = pydiffvg.render(shapes, groups, width=size, height=size)
    _to(shapes, groups, CUDA)
    gpu = pydiffvg.render(shapes, groups, width=size, height=size)
    assert gpu.device.type == "cuda"
    # Premultiplied, as the image is composited: the GPU adds in another order, so a pixel
    # that no shape covers can keep a coverage of ~1e-5 instead of 0 there (seen on an
    # H200), and the straight colour of so faint a pixel is any colour.
    assert float((_premultiplied(gpu.cpu()) - _premultiplied(cpu)).abs().max()) < 1e-3
    mae, p99 = compare_with_resvg(shapes, groups, size, size, device=CUDA)
    assert mae <= 0.01
    assert p99 <= 0.15


def test_cuda_gradcheck_float64() -> None:
    pts = torch.tensor(
        [
            [3.3, 3.1],
            [8.2, 2.4],
            [12.7, 4.1],
            [13.1, 9.2],
            [11.8, 13.3],
            [6.1, 12.6],
            [2.7, 11.2],
            [4.1, 6.3],
        ],
        dtype=torch.float64,
        device=CUDA,
        requires_grad=True,
    )
    fill = torch.tensor([0.3, 0.6, 0.9, 0.8], dtype=torch.float64, device=CUDA, requires_grad=True)
    width = torch.tensor(1.3, dtype=torch.float64, device=CUDA, requires_grad=True)

    def fn(pts: torch.Tensor, fill: torch.Tensor, width: torch.Tensor) -> torch.Tensor:
        path = pydiffvg.Path(torch.tensor([2, 0, 2, 0]), pts, True, stroke_width=width)
        stroke = torch.tensor([0.9, 0.1, 0.2, 0.7], dtype=torch.float64, device=CUDA)
        group = pydiffvg.ShapeGroup(
            torch.tensor([0]), fill, use_even_odd_rule=False, stroke_color=stroke
        )
        return pydiffvg.render([path], [group], width=16, height=16)

    # index_add on CUDA adds with atomics in no fixed order, so two backward passes may
    # differ in the last bits (gradcheck's reentrancy check failed with a tolerance of 0).
    assert torch.autograd.gradcheck(
        fn, (pts, fill, width), eps=1e-6, atol=1e-5, rtol=1e-3, fast_mode=True, nondet_tol=1e-9
    )


def test_cuda_gradients_match_cpu() -> None:
    shapes, groups = random_scene(3, width=96, height=96, num_shapes=20)
    target = torch.rand(96, 96, 4, generator=torch.Generator().manual_seed(0))

    def grads(device: torch.device) -> torch.Tensor:
        for s in shapes:
            s.points = s.points.detach().to(device).requires_grad_(True)
        _to(shapes, groups, device)
        img = pydiffvg.render(shapes, groups, width=96, height=96)
        loss = ((img - target.to(device)) ** 2).sum()
        return torch.cat(
            [g.flatten() for g in torch.autograd.grad(loss, [s.points for s in shapes])]
        ).cpu()

    cpu = grads(torch.device("cpu"))
    gpu = grads(CUDA)
    assert cosine(cpu, gpu) > 0.999
