"""Forward accuracy against an independent renderer (resvg) on random scenes.

Each scene is written with our SVG writer, rendered by resvg at the same size, and
compared premultiplied: per-channel mean absolute error <= 0.01 and 99th-percentile
per-pixel error <= 0.15 (values in [0, 1]).
"""

from __future__ import annotations

import pytest

from pydiffvg.testing import random_scene
from tools.testing.diffvg import compare_with_resvg

SIZES = (64, 128, 256, 512)


def scene_spec(index: int) -> tuple[int, int]:
    """(canvas size, shape count) for scene ``index``: sizes cycle 64..512 px and shape
    counts spread log-uniformly over 1..1000."""
    size = SIZES[index % len(SIZES)]
    count = round(10 ** (3 * ((index * 7) % 50) / 49))
    return size, count


@pytest.mark.parametrize("index", range(50))
def test_random_scene_matches_resvg(index: int) -> None:
    size, count = scene_spec(index)
    shapes, groups = random_scene(index, width=size, height=size, num_shapes=count)
    mae, p99 = compare_with_resvg(shapes, groups, size, size)
    assert mae <= 0.01, f"scene {index} ({count} shapes, {size}px): MAE {mae:.4f}"
    assert p99 <= 0.15, f"scene {index} ({count} shapes, {size}px): p99 {p99:.4f}"


@pytest.mark.slow
@pytest.mark.parametrize("index", range(50, 250))
def test_random_scene_matches_resvg_extended(index: int) -> None:
    size, count = scene_spec(index)
    shapes, groups = random_scene(
        index, width=size, height=size, num_shapes=count, size=None if index % 3 else 0.25 * size
    )
    mae, p99 = compare_with_resvg(shapes, groups, size, size)
    assert mae <= 0.01
    assert p99 <= 0.15
