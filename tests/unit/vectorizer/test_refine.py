"""Refinement through pydiffvg: it improves the fit, keeps the budget and can be cancelled."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from supersvg.vectorizer import Cancelled, VectorizeConfig, Vectorizer
from supersvg.vectorizer.cli import main
from supersvg.vectorizer.config import PRESETS
from supersvg.vectorizer.refine import region_groups, renderer_available

pytestmark = pytest.mark.skipif(not renderer_available(), reason="pydiffvg.render missing")


def _disk_image(size: int = 40) -> np.ndarray:
    yy, xx = np.mgrid[:size, :size] + 0.5
    # Anti-aliased disk on a flat background: the coarse polygon is a little off.
    d = np.sqrt((yy - size * 0.45) ** 2 + (xx - size * 0.55) ** 2) - size * 0.3
    cover = np.clip(0.5 - d, 0.0, 1.0)[..., None]
    img = (1 - cover) * np.array([230, 220, 200]) + cover * np.array([40, 90, 200])
    return np.round(img).astype(np.uint8)


def test_refinement_improves_psnr_and_keeps_budget() -> None:
    img = _disk_image()
    base = Vectorizer(VectorizeConfig(max_paths=2, iterations=0, preset="icon")).vectorize(img)
    cfg = VectorizeConfig(max_paths=2, iterations=25, preset="icon", refine_size=40)
    ref = Vectorizer(cfg).vectorize(img)
    assert ref.metrics["refine"].startswith("pydiffvg (")
    assert 1 <= ref.metrics["iterations"] <= 25
    assert ref.num_paths <= 2
    assert ref.metrics["psnr"] > base.metrics["psnr"] + 0.5


def test_refinement_is_deterministic_and_cancellable() -> None:
    img = _disk_image(24)
    cfg = VectorizeConfig(max_paths=2, iterations=5, preset="icon", refine_size=24, seed=7)
    assert Vectorizer(cfg).vectorize(img).svg == Vectorizer(cfg).vectorize(img).svg
    stages: list[str] = []

    def cancel_in_refine() -> bool:
        return bool(stages) and stages[-1] == "refine"

    with pytest.raises(Cancelled):
        Vectorizer(cfg.with_(iterations=50)).vectorize(
            img, progress=lambda s, p: stages.append(s), should_cancel=cancel_in_refine
        )
    assert "write" not in stages


def _blocks_image(size: int = 48) -> np.ndarray:
    """Photo-like input: soft colour gradients, blocks and a disk (the photo preset)."""
    rng = np.random.default_rng(5)
    yy, xx = np.mgrid[:size, :size] / size
    img = np.stack([0.3 + 0.5 * xx, 0.2 + 0.6 * yy, 0.5 + 0.3 * xx * yy], axis=-1)
    for _ in range(6):
        x0, y0 = rng.integers(0, size - 12, 2)
        img[y0 : y0 + 10, x0 : x0 + 10] = rng.uniform(0, 1, 3)
    d = np.sqrt((yy - 0.5) ** 2 + (xx - 0.6) ** 2) * size - size * 0.2
    cover = np.clip(0.5 - d, 0.0, 1.0)[..., None]
    img = (1 - cover) * img + cover * np.array([0.9, 0.1, 0.2])
    return np.round(img * 255).astype(np.uint8)


def test_region_groups_assign_holes_to_the_outer_loop_around_them() -> None:
    def square(x0: float, y0: float, s: float, *, hole: bool) -> np.ndarray:
        pts = np.array([[x0, y0], [x0 + s, y0], [x0 + s, y0 + s], [x0, y0 + s]])
        pts = pts[::-1] if hole else pts
        return np.repeat(pts, 3, axis=0)  # (3N, 2) like a cubic loop

    subs = [
        square(0, 0, 10, hole=False),  # 0: outer A
        square(20, 0, 10, hole=False),  # 1: outer B
        square(2, 2, 6, hole=True),  # 2: hole in A
        square(22, 2, 6, hole=True),  # 3: hole in B
        square(3, 3, 2, hole=False),  # 4: island in A's hole
    ]
    regions = sorted(sorted(r) for r in region_groups(subs))
    assert regions == [[0, 2], [1, 3], [4]]
    # A hole with no outer loop around it keeps the path whole (always exact).
    assert region_groups([subs[0], square(40, 40, 3, hole=True)]) == [[0, 1]]


def test_polygon_refinement_improves_a_photo() -> None:
    img = _blocks_image()
    base = Vectorizer(VectorizeConfig(max_paths=8, iterations=0, preset="photo")).vectorize(img)
    cfg = VectorizeConfig(max_paths=8, iterations=30, preset="photo", time_budget=0)
    ref = Vectorizer(cfg).vectorize(img)
    assert ref.metrics["refine"].startswith("pydiffvg (")
    assert 1 <= ref.metrics["iterations"] <= 30
    assert ref.num_paths <= 8
    assert ref.metrics["psnr"] > base.metrics["psnr"] + 0.5


def test_refinement_stops_when_the_loss_converges() -> None:
    img = _blocks_image(32)
    cfg = VectorizeConfig(max_paths=6, iterations=100_000, preset="photo", time_budget=0)
    res = Vectorizer(cfg).vectorize(img)
    assert res.metrics["refine"] == "pydiffvg (converged)"
    assert 10 < res.metrics["iterations"] < 100_000


def test_time_cap_stops_refinement() -> None:
    img = _blocks_image(64)
    cfg = VectorizeConfig(max_paths=8, iterations=100_000, preset="photo", time_budget=1.5)
    res = Vectorizer(cfg).vectorize(img)
    assert 1 <= res.metrics["iterations"] < 100_000
    assert res.metrics["seconds"] < 6.0  # cap plus writing and scoring, on a loaded CPU


def test_refinement_never_returns_worse_than_coarse(monkeypatch: pytest.MonkeyPatch) -> None:
    # Absurd step sizes wreck the geometry; the coarse result must come back unchanged.
    wild = dataclasses.replace(PRESETS["photo"], lr_points=200.0, lr_colors=5.0)
    monkeypatch.setitem(PRESETS, "photo", wild)
    img = _blocks_image()
    base = Vectorizer(VectorizeConfig(max_paths=8, iterations=0, preset="photo")).vectorize(img)
    cfg = VectorizeConfig(max_paths=8, iterations=5, preset="photo", time_budget=0)
    res = Vectorizer(cfg).vectorize(img)
    assert res.metrics["psnr"] >= base.metrics["psnr"]
    assert res.metrics["refine"] == "pydiffvg (coarse kept)"
    assert res.svg == base.svg


def test_time_budget_config_and_cli(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="time_budget"):
        VectorizeConfig(time_budget=-1.0)
    src = tmp_path / "in.png"
    Image.fromarray(_blocks_image(32)).save(src)
    metrics = tmp_path / "m.json"
    rc = main(
        [
            "vectorize", str(src), "-o", str(tmp_path / "o.svg"), "--max-paths", "4",
            "--iterations", "100000", "--time-budget", "1", "--metrics", str(metrics),
            "--no-progress",
        ]
    )  # fmt: skip
    assert rc == 0
    got = json.loads(metrics.read_text())
    assert 1 <= got["iterations"] < 100_000
    assert main(["vectorize", str(src), "-o", "-", "--time-budget", "-2"]) == 2


def test_budget_spent_before_refinement_skips_it() -> None:
    img = _blocks_image()
    cfg = VectorizeConfig(max_paths=8, iterations=10, preset="photo", time_budget=1e-6)
    res = Vectorizer(cfg).vectorize(img)
    base = Vectorizer(cfg.with_(iterations=0)).vectorize(img)
    assert res.metrics["iterations"] == 0
    assert res.metrics["refine"] == "skipped (time cap reached)"
    assert res.svg == base.svg


def test_gradient_fills_refine_through_the_polygon_fast_path(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A straight-edged scene with a gradient fill (a photo's sky) takes render_polygons
    # like a flat one; the gradient's stop colours move toward the image's.
    import pydiffvg
    from supersvg.vectorizer.refine import refine_paths
    from supersvg.vectorizer.shapes import LinearFill, VPath

    def straight_cubic_loop(v: np.ndarray) -> np.ndarray:
        d = np.roll(v, -1, axis=0) - v
        return np.stack([v, v + d / 3, v + 2 * d / 3], axis=1).reshape(-1, 2)

    size = 32
    xx = (np.mgrid[:size, :size][1] + 0.5) / size
    truth = np.stack([0.9 - 0.8 * xx, 0.2 + 0.6 * xx, 0.5 + 0 * xx], axis=-1)
    img = np.round(255 * truth).astype(np.uint8)
    square = np.array([[0.0, 0], [size, 0], [size, size], [0, size]])
    inner = np.array([[4.0, 4], [28, 4], [28, 28], [4, 28]])
    paths = [
        VPath([straight_cubic_loop(square)], np.array([0.5, 0.5, 0.5, 1.0]), is_background=True),
        VPath(
            [straight_cubic_loop(inner)],
            np.array([0.5, 0.5, 0.5, 1.0]),
            gradient=LinearFill(
                np.array([4.0, 16]), np.array([28.0, 16]), np.array([[0.5, 0.5, 0.5, 1.0]] * 2)
            ),
        ),
    ]

    def no_generic_render(*args: object, **kwargs: object) -> None:
        raise AssertionError("the polygon scene must not go through pydiffvg.render")

    monkeypatch.setattr(pydiffvg, "render", no_generic_render)
    cfg = VectorizeConfig(iterations=60, refine_size=size, preset="photo", time_budget=0)
    before = paths[1].gradient.stops.copy()
    rgba = np.dstack([img, np.full((size, size), 255, dtype=np.uint8)])
    out, steps, _ = refine_paths(paths, rgba, cfg, PRESETS["photo"])
    assert steps > 0
    stops = out[1].gradient.stops
    # The image at the gradient's begin (x = 4) and end (x = 28).
    want = np.array([truth[16, 4], truth[16, 27]])
    assert np.abs(stops[:, :3] - want).mean() < 0.5 * np.abs(before[:, :3] - want).mean()
    assert np.array_equal(out[1].color, [0.5, 0.5, 0.5, 1.0])  # its flat colour is unused
