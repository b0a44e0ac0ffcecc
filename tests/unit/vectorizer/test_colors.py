"""Colour budget: flat art does not spend paths on anti-aliasing shades."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from supersvg.vectorizer import VectorizeConfig, Vectorizer
from supersvg.vectorizer.superpixels import _weighted_kmeans

from .conftest import photo_image, shapes_image


def _visible_parts(img: np.ndarray) -> int:
    """Connected areas of one colour: what a flat partition of the image would need."""
    flat = img.reshape(-1, 3)
    _, inv = np.unique(flat, axis=0, return_inverse=True)
    inv = inv.reshape(img.shape[:2])
    return sum(int(ndimage.label(inv == c)[1]) for c in range(int(inv.max()) + 1))


def test_flat_scene_stops_adding_shapes_when_they_stop_paying() -> None:
    img = shapes_image(128)
    res = Vectorizer(VectorizeConfig(max_paths=256, iterations=0)).vectorize(img)
    # Superpixels straddling edges have mixed colours; they must not each buy a shape.
    assert res.num_paths <= _visible_parts(img)
    assert res.metrics["psnr"] >= 27.0


def test_photo_still_uses_its_budget() -> None:
    res = Vectorizer(VectorizeConfig(max_paths=32, iterations=0)).vectorize(photo_image())
    assert res.num_paths == 32


def test_kmeans_min_mse_stops_seeding_early() -> None:
    rng = np.random.default_rng(0)
    centres = np.array([[0.1, 0.2, 0.3, 1.0], [0.9, 0.8, 0.1, 1.0], [0.4, 0.9, 0.6, 1.0]])
    x = centres[rng.integers(0, 3, 300)] + rng.normal(0, 0.002, (300, 4))
    w = np.ones(300)
    assign, c = _weighted_kmeans(x, w, 50, np.random.default_rng(1), min_mse=1e-4)
    assert len(c) == 3 and len(np.unique(assign)) == 3
    _, c_all = _weighted_kmeans(x, w, 50, np.random.default_rng(1))
    assert len(c_all) > 3
