"""Why two of DiffVG's example programs stop short of a 10x loss drop: the output's alpha
convention, measured.

``single_polygon.py`` and ``single_curve_outline.py`` compare the rendered RGBA image
with a target by an L2 loss over all four channels, on a transparent canvas. pydiffvg
returns straight (un-premultiplied) colour, so a pixel whose coverage leaves 0 by any
amount shows the shape's full colour: the loss jumps there while the gradient (which
follows coverage) does not see it. DiffVG averages each sample's un-premultiplied
colour, which for an opaque paint is the premultiplied colour (colour x coverage):
continuous, so its loss falls with the geometry.

This script restates those two cases (same scene numbers, our code), runs the same Adam
optimisation (normalised parameters, lr 1e-2, 100 / 200 steps) and reports the loss in
both conventions, the largest distance of a control point from its target, and the
loss floor: the straight-colour loss of the target scene with every point moved by a
tiny amount.

    python benchmarks/diffvg_alpha_floor.py [--out benchmarks/results] [--only polygon]

writes ``diffvg_alpha_floor.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import pydiffvg

SIZE = 256
Build = Callable[[dict[str, torch.Tensor]], tuple[list[Any], list[Any]]]


def _render(shapes: list[Any], groups: list[Any]) -> torch.Tensor:
    args = pydiffvg.RenderFunction.serialize_scene(SIZE, SIZE, shapes, groups)
    return pydiffvg.RenderFunction.apply(SIZE, SIZE, 2, 2, 0, None, *args)


def _premultiplied(img: torch.Tensor) -> torch.Tensor:
    return torch.cat([img[..., :3] * img[..., 3:], img[..., 3:]], dim=-1)


def _polygon(p: dict[str, torch.Tensor]) -> tuple[list[Any], list[Any]]:
    # A five-pointed star drawn as one self-intersecting polygon; only the points move.
    shape = pydiffvg.Polygon(points=p["points"] * SIZE, is_closed=True)
    group = pydiffvg.ShapeGroup(torch.tensor([0]), torch.tensor([0.3, 0.6, 0.3, 1.0]))
    return [shape], [group]


def _outline(p: dict[str, torch.Tensor]) -> tuple[list[Any], list[Any]]:
    # A closed path of three cubics, filled and stroked with a translucent colour.
    shape = pydiffvg.Path(
        torch.tensor([2, 2, 2]),
        p["points"] * SIZE,
        is_closed=True,
        stroke_width=p["width"] * 100,
    )
    group = pydiffvg.ShapeGroup(torch.tensor([0]), p["fill"], stroke_color=p["stroke"])
    return [shape], [group]


def _t(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows) / SIZE


CASES: dict[str, tuple[Build, dict[str, torch.Tensor], dict[str, torch.Tensor], int]] = {
    "polygon": (
        _polygon,
        {"points": _t([[120, 30], [60, 218], [210, 98], [30, 98], [180, 218]])},
        {"points": _t([[140, 20], [65, 228], [215, 100], [35, 90], [160, 208]])},
        100,
    ),
    "curve_outline": (
        _outline,
        {
            "points": _t(
                [
                    [120, 30],
                    [150, 60],
                    [90, 198],
                    [60, 218],
                    [90, 180],
                    [200, 65],
                    [210, 98],
                    [220, 70],
                    [130, 55],
                ]
            ),
            "width": torch.tensor(0.05),
            "fill": torch.tensor([0.3, 0.6, 0.3, 1.0]),
            "stroke": torch.tensor([0.6, 0.3, 0.6, 0.8]),
        },
        {
            "points": _t(
                [
                    [100, 40],
                    [155, 65],
                    [100, 180],
                    [65, 238],
                    [100, 200],
                    [170, 55],
                    [220, 100],
                    [210, 80],
                    [140, 60],
                ]
            ),
            "width": torch.tensor(0.1),
            "fill": torch.tensor([0.3, 0.2, 0.8, 1.0]),
            "stroke": torch.tensor([0.4, 0.7, 0.5, 0.5]),
        },
        200,
    ),
}


def _losses(img: torch.Tensor, target: torch.Tensor) -> tuple[float, float]:
    straight = float((img - target).pow(2).sum())
    premult = float((_premultiplied(img) - _premultiplied(target)).pow(2).sum())
    return straight, premult


def run_case(name: str) -> dict[str, Any]:
    build, target_p, init, steps = CASES[name]
    with torch.no_grad():
        target = _render(*build(target_p))
        floor = {}
        for shift in (1e-3, 1e-2, 5e-2):
            moved = dict(target_p, points=target_p["points"] + shift / SIZE)
            floor[str(shift)] = _losses(_render(*build(moved)), target)[0]
    params = {k: v.clone().requires_grad_(True) for k, v in init.items()}
    opt = torch.optim.Adam(list(params.values()), lr=1e-2)
    start = time.perf_counter()
    curve = []
    for _ in range(steps):
        opt.zero_grad()
        img = _render(*build(params))
        loss = (img - target).pow(2).sum()
        loss.backward()
        curve.append(_losses(img.detach(), target))
        opt.step()
    straight = [c[0] for c in curve]
    premult = [c[1] for c in curve]
    with torch.no_grad():
        err = (params["points"] - target_p["points"]).abs().max() * SIZE
    return {
        "case": name,
        "steps": steps,
        "straight_first": straight[0],
        "straight_last": straight[-1],
        "straight_min_last10": min(straight[-10:]),
        "straight_max_last10": max(straight[-10:]),
        "premult_first": premult[0],
        "premult_last": premult[-1],
        "max_point_error_px": float(err),
        "floor_straight_by_shift_px": floor,
        "seconds": round(time.perf_counter() - start, 1),
    }


def write(out: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "diffvg_alpha_floor.json").write_text(
        json.dumps({"meta": meta, "cases": rows}, indent=2) + "\n"
    )
    lines = [
        "# Straight versus premultiplied colour in the L2 loss of DiffVG's example programs",
        "",
        f"Load average {meta['loadavg_start']} at start, {meta['loadavg_end']} at end. "
        "Loss as the programs compute it (straight RGBA, ours) and on premultiplied RGBA "
        "(DiffVG's output for an opaque paint); floor: straight loss of the target scene "
        "with every point moved by the shift.",
        "",
        "| case | steps | straight first | straight last (last 10: min-max) | straight "
        "ratio | premult first | premult last | premult ratio | max point error px | "
        "floor at 0.001 / 0.01 / 0.05 px | seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        f = r["floor_straight_by_shift_px"]
        lines.append(
            f"| {r['case']} | {r['steps']} | {r['straight_first']:.4g} | "
            f"{r['straight_last']:.4g} ({r['straight_min_last10']:.4g}-"
            f"{r['straight_max_last10']:.4g}) | "
            f"{r['straight_first'] / r['straight_last']:.3g} | {r['premult_first']:.4g} | "
            f"{r['premult_last']:.4g} | {r['premult_first'] / r['premult_last']:.3g} | "
            f"{r['max_point_error_px']:.3g} | {f['0.001']:.4g} / {f['0.01']:.4g} / "
            f"{f['0.05']:.4g} | {r['seconds']} |"
        )
    (out / "diffvg_alpha_floor.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--only", nargs="*", choices=sorted(CASES))
    args = parser.parse_args()
    torch.manual_seed(0)
    meta: dict[str, Any] = {"loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    rows = []
    for name in args.only or list(CASES):
        rows.append(run_case(name))
        print(json.dumps(rows[-1]), flush=True)
    meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    write(args.out, rows, meta)


if __name__ == "__main__":
    main()
