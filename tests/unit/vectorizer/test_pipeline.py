"""End-to-end behaviour of the pipeline: valid SVG, path budget, metrics, seams, alpha."""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from PIL import Image

from supersvg.vectorizer import Cancelled, Result, VectorizeConfig, Vectorizer
from supersvg.vectorizer.loader import load_image
from supersvg.vectorizer.metrics import composite_white, psnr, render_svg, ssim

from .conftest import encode, photo_image, shapes_image

SVG_NS = "{http://www.w3.org/2000/svg}"


def _paths(svg: str) -> list[ET.Element]:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG_NS}svg"
    return list(root.iter(f"{SVG_NS}path"))


def _check_result(res: Result, image: np.ndarray, max_paths: int) -> None:
    h, w = image.shape[:2]
    root = ET.fromstring(res.svg)
    assert root.get("viewBox") == f"0 0 {w} {h}"
    paths = _paths(res.svg)
    # The budget counts closed outlines (movetos), whatever elements group them.
    outlines = sum(len(re.findall(r"[Mm]", p.get("d", ""))) for p in paths)
    assert outlines == res.num_paths == res.metrics["num_paths"] <= max_paths
    assert len(paths) <= outlines
    for p in paths:
        assert re.fullmatch(r"[MmLlHhVvCcZz0-9.\- ]+", p.get("d", "")), p.get("d")
    # The written file, rendered by an independent renderer, gives the reported metrics.
    rendered = render_svg(res.svg, w, h)
    assert rendered.shape == (h, w, 4)
    target = load_rgba(image)
    a, b = composite_white(target), composite_white(rendered)
    assert psnr(a, b) == pytest.approx(res.metrics["psnr"], abs=1e-3)
    assert ssim(a, b) == pytest.approx(res.metrics["ssim"], abs=1e-4)
    assert res.metrics["svg_bytes"] == len(res.svg.encode())
    assert (res.metrics["width"], res.metrics["height"]) == (w, h)
    preview = Image.open(io.BytesIO(res.preview_png))
    assert preview.size == (w, h)


def load_rgba(image: np.ndarray) -> np.ndarray:
    if image.shape[2] == 3:
        image = np.dstack([image, np.full(image.shape[:2], 255, np.uint8)])
    return image.astype(np.float64) / 255.0


@pytest.mark.parametrize("max_paths", [1, 2, 8, 64])
def test_budget_validity_and_metrics(max_paths: int) -> None:
    img = photo_image(64)
    res = Vectorizer(VectorizeConfig(max_paths=max_paths, iterations=0)).vectorize(img)
    _check_result(res, img, max_paths)
    assert res.num_paths >= 1


def test_quality_grows_with_budget_and_beats_flat_fill() -> None:
    img = shapes_image(96)
    low = Vectorizer(VectorizeConfig(max_paths=2, iterations=0)).vectorize(img)
    high = Vectorizer(VectorizeConfig(max_paths=16, iterations=0)).vectorize(img)
    assert high.metrics["psnr"] > low.metrics["psnr"] + 5
    # Flat-colour art with enough paths is reproduced closely.
    assert high.metrics["psnr"] > 28


def test_every_input_format_vectorizes() -> None:
    arr = shapes_image(48)
    for data in (encode(arr, "PNG"), encode(arr, "JPEG"), encode(arr, "WEBP")):
        res = Vectorizer(VectorizeConfig(max_paths=12, iterations=0)).vectorize(data)
        # Metrics are against the decoded input (JPEG is lossy).
        _check_result(res, load_image(data), 12)


def test_deterministic_for_seed() -> None:
    img = photo_image(64)
    cfg = VectorizeConfig(max_paths=32, iterations=0, seed=3)
    a = Vectorizer(cfg).vectorize(img)
    b = Vectorizer(cfg).vectorize(img)
    assert a.svg == b.svg


def test_background_path_first_and_largest_first_order() -> None:
    img = shapes_image(96)
    res = Vectorizer(VectorizeConfig(max_paths=10, iterations=0)).vectorize(img)
    first = res.paths[0]
    assert first.is_background
    assert _paths(res.svg)[0].get("d") == "M0 0h96v96h-96z"
    areas = [sum(abs(_area(s)) for s in p.subpaths) for p in res.paths[1:]]
    assert areas[0] >= areas[-1]


def _area(sub: np.ndarray) -> float:
    pts = sub[0::3]
    x, y = pts[:, 0], pts[:, 1]
    return float(0.5 * (np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


@pytest.mark.parametrize(("source", "budget"), [("shapes", 10), ("photo", 48)])
def test_no_seams_between_regions(source: str, budget: int) -> None:
    """Without the background path, regions alone must cover an opaque input: rendered
    over a contrasting colour, none of it shows through between neighbours."""
    img = shapes_image(96) if source == "shapes" else photo_image(96)
    cfg = VectorizeConfig(max_paths=budget, iterations=0, background=False)
    res = Vectorizer(cfg).vectorize(img)
    alpha = render_svg(res.svg, 96, 96)[..., 3]
    # Anti-aliased edges that meet exactly conflate (alpha 1 - a*b >= 0.75); a crack
    # would go lower. Regions overlap by a fraction of a pixel, so nearly all is opaque.
    assert alpha.min() > 0.6
    assert (alpha < 0.95).mean() < 0.01
    over = render_svg(res.svg, 96, 96, background="#ff00ff")[..., :3]
    magenta = (over[..., 0] > 0.9) & (over[..., 1] < 0.1) & (over[..., 2] > 0.9)
    assert magenta.sum() == 0
    # With the background path (default), nothing of the canvas can show at all.
    full = Vectorizer(VectorizeConfig(max_paths=budget, iterations=0)).vectorize(img)
    assert render_svg(full.svg, 96, 96)[..., 3].min() == 1.0


def test_transparency_is_kept() -> None:
    rgba = np.zeros((64, 64, 4), np.uint8)
    yy, xx = np.mgrid[:64, :64]
    disk = (yy - 32) ** 2 + (xx - 32) ** 2 < 20**2
    rgba[disk] = (200, 30, 30, 255)
    rgba[(yy - 32) ** 2 + (xx - 32) ** 2 < 8**2] = (0, 0, 0, 0)  # a transparent hole
    res = Vectorizer(VectorizeConfig(max_paths=4, iterations=0)).vectorize(rgba)
    out = render_svg(res.svg, 64, 64)
    assert out[0:5, 0:5, 3].max() == 0.0  # corners stay transparent
    assert out[32, 32, 3] == 0.0  # and so does the hole
    assert out[32, 18, 3] == 1.0 and abs(out[32, 18, 0] - 200 / 255) < 0.02
    assert not res.paths[0].is_background  # no background rectangle on transparent input


def test_semi_transparent_colour_uses_fill_opacity() -> None:
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[8:24, 8:24] = (0, 0, 255, 128)
    res = Vectorizer(VectorizeConfig(max_paths=2, iterations=0)).vectorize(rgba)
    assert 'fill-opacity=".5"' in res.svg
    out = render_svg(res.svg, 32, 32)
    assert abs(out[16, 16, 3] - 0.5) < 0.02


def test_progress_and_cancellation() -> None:
    img = shapes_image(48)
    seen: list[tuple[str, float]] = []
    Vectorizer(VectorizeConfig(max_paths=8, iterations=0)).vectorize(
        img, progress=lambda s, p: seen.append((s, p))
    )
    pct = [p for _, p in seen]
    assert pct == sorted(pct) and pct[0] == 0.0 and pct[-1] == 100.0
    assert {"load", "superpixels", "coarse", "write", "done"} <= {s for s, _ in seen}

    calls = {"n": 0}

    def cancel_after_two() -> bool:
        calls["n"] += 1
        return calls["n"] > 2

    with pytest.raises(Cancelled):
        Vectorizer(VectorizeConfig(max_paths=8, iterations=0)).vectorize(
            img, should_cancel=cancel_after_two
        )


def test_large_input_is_worked_at_reduced_size_but_written_full_size() -> None:
    img = np.asarray(Image.fromarray(shapes_image(96)).resize((600, 300)))
    cfg = VectorizeConfig(max_paths=12, iterations=0, work_size=128)
    res = Vectorizer(cfg).vectorize(img)
    _check_result(res, img, 12)
    assert res.metrics["psnr"] > 22


def test_result_json() -> None:
    res = Vectorizer(VectorizeConfig(max_paths=4, iterations=0)).vectorize(shapes_image(32))
    import json

    data = json.loads(res.to_json())
    assert set(data) >= {"num_paths", "psnr", "ssim", "seconds", "svg_bytes", "width", "height"}
