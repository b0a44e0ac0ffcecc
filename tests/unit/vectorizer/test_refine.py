"""Refinement through pydiffvg: it improves the fit, keeps the budget and can be cancelled."""

from __future__ import annotations

import numpy as np
import pytest

from supersvg.vectorizer import Cancelled, VectorizeConfig, Vectorizer
from supersvg.vectorizer.refine import renderer_available

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
    assert ref.metrics["refine"] == "pydiffvg" and ref.metrics["iterations"] == 25
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
