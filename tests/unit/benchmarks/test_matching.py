"""VTracer matching, the job plan and target checks of the vectorizer benchmark."""

from __future__ import annotations

from typing import Any

from benchmarks.vecbench.plan import PALETTE_SHAPES, jobs_for
from benchmarks.vecbench.sweep import MATCH_TIE_DB, match
from benchmarks.vecbench.targets import check_targets, contract_misses


def _pt(outlines: int, psnr: float, gzip: int = 100) -> dict[str, Any]:
    return {"outlines": outlines, "psnr": psnr, "gzip": gzip}


def test_match_takes_best_psnr_at_equal_or_fewer_outlines() -> None:
    points = [_pt(10, 20.0), _pt(64, 25.0), _pt(65, 40.0), _pt(30, 24.0)]
    assert match(points, 64) == _pt(64, 25.0)  # 65 outlines is over, however good
    assert match(points, 63) == _pt(30, 24.0)
    assert match(points, 9) is None  # nothing that sparse


def test_match_breaks_near_ties_by_fewer_gzip_bytes() -> None:
    points = [
        _pt(5, 30.0, gzip=900),
        _pt(5, 30.0 - MATCH_TIE_DB / 2, gzip=300),  # as good, within the tie margin
        _pt(4, 29.0, gzip=10),  # clearly worse, however small
    ]
    assert match(points, 5) == _pt(5, 30.0 - MATCH_TIE_DB / 2, gzip=300)


def test_jobs_for_flat_art_adds_twice_the_source_outlines() -> None:
    jobs = jobs_for("icons", [64], source_outlines=7, palette_ks=[], baseline=True)
    assert [(j.label, j.mode, j.max_paths) for j in jobs] == [
        ("64", "default", 64),
        ("64", "fast", 64),
        ("2xsrc", "default", 14),
        ("2xsrc", "fast", 14),
    ]
    assert jobs[1].args() == ["--max-paths", "64", "--iterations", "0"]


def test_jobs_for_palette_runs_beside_the_previous_colour_layers() -> None:
    jobs = jobs_for("photo", [], source_outlines=None, palette_ks=[16], baseline=True)
    ours, prev = jobs
    assert ours.args() == ["--max-paths", str(PALETTE_SHAPES), "--max-colors", "16"]
    assert (prev.cli, prev.args()) == ("baseline", ["--max-paths", "16"])


def _row(**kw: Any) -> dict[str, Any]:
    base = {
        "set": "photo",
        "image": "img",
        "label": "64",
        "mode": "default",
        "cli": "ours",
        "error": None,
        "seconds": 2.0,
        "outlines": 60,
        "max_paths": 64,
        "max_colors": None,
        "fills": 10,
        "num_paths": 60,
        "d_psnr": 3.5,
    }
    return {**base, **kw}


def test_targets_name_the_images_that_miss() -> None:
    rows = [
        _row(image="good"),
        _row(image="close", d_psnr=2.0),
        _row(image="slow", seconds=12.0),
        _row(image="failed", error="exit 1: boom"),
    ]
    verdicts = {t["target"]: t for t in check_targets(rows)}
    psnr = verdicts["photo default: PSNR >= VTracer + 3 dB at <= outlines"]
    assert psnr["status"] == "miss"
    assert [(m["image"], m["value"]) for m in psnr["misses"]] == [
        ("close", "+2.00 dB"),
        ("failed", "exit 1: boom"),
    ]
    time = verdicts["photo default: <= 10 s per call"]
    assert [m["image"] for m in time["misses"]] == ["slow", "failed"]
    assert verdicts["photo fast: < 1 s per call"]["status"] == "no data"


def test_contract_misses_catch_budget_and_num_paths_disagreement() -> None:
    rows = [
        _row(image="ok"),
        _row(image="over", outlines=70, num_paths=70),
        _row(image="lies", num_paths=64),
        _row(image="colours", mode="palette", max_colors=16, fills=17),
    ]
    assert [(c["image"], c["why"]) for c in contract_misses(rows)] == [
        ("over", "70 outlines > max_paths 64"),
        ("lies", "metrics num_paths 64 != 60 outlines in file"),
        ("colours", "17 fills > max_colors 16"),
    ]
