"""Rendering at scale, synthetic sources and potrace in the vectorizer benchmark."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from benchmarks.vecbench.peers import potrace_svg, vtracer_inputs
from benchmarks.vecbench.render import render_rgba
from benchmarks.vecbench.sets import synthetic_svg
from benchmarks.vecbench.svgstats import svg_stats


@pytest.mark.parametrize("viewbox", ["", ' viewBox="0 0 4 4"'])
def test_render_at_scale_draws_bigger_not_resampled(viewbox: str) -> None:
    # VTracer writes no viewBox; ours does: both must scale with the requested size.
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"{viewbox}>'
        '<rect width="2" height="2" fill="#000"/></svg>'
    )
    img = render_rgba(svg, 16, 16)
    assert img.shape == (16, 16, 4)
    assert (img[:8, :8, 3] == 255).all() and (img[:8, :8, :3] == 0).all()
    assert (img[8:, :, 3] == 0).all() and (img[:, 8:, 3] == 0).all()


def test_synthetic_sources_are_seeded_and_counted() -> None:
    a, b = synthetic_svg(3), synthetic_svg(3)
    assert a == b and a != synthetic_svg(4)
    st = svg_stats(a)
    shapes = a.count("<circle") + a.count("<ellipse") + a.count("<rect") + a.count("<polygon")
    assert st.outlines == shapes >= 1


@pytest.mark.skipif(shutil.which("potrace") is None, reason="potrace not installed")
def test_potrace_traces_a_disk_in_its_ink_colour() -> None:
    yy, xx = np.mgrid[:64, :64]
    disk = (yy - 32) ** 2 + (xx - 32) ** 2 < 20**2
    img = np.zeros((64, 64, 4), np.uint8)
    img[disk] = (200, 30, 10, 255)  # on a transparent background
    svg = potrace_svg(img)
    st = svg_stats(svg)
    assert st.outlines == 1 and st.curves >= 4
    assert 'fill="#c81e0a"' in svg and 'width="64" height="64"' in svg
    drawn = render_rgba(svg, 64, 64)[..., 3] >= 128
    assert (drawn == disk).mean() > 0.98


def test_vtracer_gets_a_flattened_copy_only_of_transparent_images() -> None:
    opaque = np.full((2, 2, 4), 255, np.uint8)
    assert list(vtracer_inputs(opaque)) == ["rgba"]
    img = opaque.copy()
    img[0, 0] = (0, 0, 0, 0)  # transparent -> white
    img[0, 1] = (0, 0, 0, 128)  # half black over white -> grey
    flat = vtracer_inputs(img)["white"]
    assert flat[0, 0].tolist() == [255, 255, 255, 255]
    assert flat[0, 1].tolist() == [127, 127, 127, 255]
