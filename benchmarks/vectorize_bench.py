"""Vectorizer quality and speed against VTracer, on reproducible image sets.

Sets (built the same way on every machine):
- photo: photographs shipped inside scikit-image (skimage.data), longest side 256 px;
- emoji: a seeded subset of Twemoji (npm package @twemoji/svg) rendered with resvg;
- icons: a seeded subset of Tabler outline icons (npm package @tabler/icons), resvg;
- shapes: seeded synthetic flat-colour scenes (anti-aliased).
Emoji and icons are fetched with ``npm pack`` into benchmarks/.work/ (git-ignored).

Every SVG (ours and VTracer's) is rendered by resvg at the input size; PSNR / SSIM are
computed on RGB composited over white. VTracer's parameters (filter_speckle,
color_precision, layer_difference) are searched per image so that its path count lands
at or under the same budget; the best-PSNR setting is reported.

Usage: python benchmarks/vectorize_bench.py --out benchmarks/results [--quick]
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import os
import platform
import re
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from supersvg.vectorizer import VectorizeConfig, Vectorizer
from supersvg.vectorizer.metrics import composite_white, psnr, render_svg, ssim

ROOT = Path(__file__).resolve().parent
WORK = ROOT / ".work"
SIZE = 256
PHOTOS = [
    "astronaut",
    "coffee",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "hubble_deep_field",
    "retina",
    "camera",
    "moon",
    "coins",
    "clock",
    "brick",
    "grass",
    "gravel",
]
PATH_LIKE = re.compile(r"<(path|circle|ellipse|rect|polygon|polyline|line)\b([^>]*)>", re.S)


# ---------------------------------------------------------------- image sets


def _fit(img: Image.Image, size: int = SIZE) -> Image.Image:
    w, h = img.size
    f = size / max(w, h)
    return img.resize((max(1, round(w * f)), max(1, round(h * f))), Image.Resampling.LANCZOS)


def photo_set(limit: int) -> list[dict[str, Any]]:
    from skimage import data

    out = []
    for name in PHOTOS[:limit]:
        arr = getattr(data, name)()
        img = Image.fromarray(arr).convert("RGB")
        out.append({"name": name, "image": np.asarray(_fit(img)), "source_paths": None})
    return out


def _npm_svgs(package: str, member_re: str) -> dict[str, str]:
    WORK.mkdir(parents=True, exist_ok=True)
    stem = package.lstrip("@").replace("/", "-")
    tgz = sorted(WORK.glob(f"{stem}-*.tgz"))
    if not tgz:
        subprocess.run(["npm", "pack", package, "--silent"], cwd=WORK, check=True)
        tgz = sorted(WORK.glob(f"{stem}-*.tgz"))
    out = {}
    with tarfile.open(tgz[-1]) as tar:
        for m in tar.getmembers():
            if m.isfile() and re.fullmatch(member_re, m.name):
                f = tar.extractfile(m)
                if f is not None:
                    out[m.name] = f.read().decode("utf-8")
    return out


def count_source_paths(svg: str) -> int:
    """Visible path-like elements (an element with neither fill nor stroke is skipped)."""
    n = 0
    for _, attrs in PATH_LIKE.findall(svg):
        if 'fill="none"' in attrs and 'stroke="none"' in attrs:
            continue
        n += 1
    return n


def _svg_set(package: str, member_re: str, limit: int, seed: int) -> list[dict[str, Any]]:
    files = _npm_svgs(package, member_re)
    names = sorted(files)
    rng = np.random.default_rng(seed)
    pick = sorted(rng.choice(len(names), size=min(limit, len(names)), replace=False).tolist())
    out = []
    for i in pick:
        svg = files[names[i]]
        png = render_svg(svg, SIZE, SIZE)
        out.append(
            {
                "name": Path(names[i]).stem,
                "image": np.round(png * 255).astype(np.uint8),
                "source_paths": count_source_paths(svg),
            }
        )
    return out


def emoji_set(limit: int, seed: int) -> list[dict[str, Any]]:
    return _svg_set("@twemoji/svg", r"package/[0-9a-f-]+\.svg", limit, seed)


def icons_set(limit: int, seed: int) -> list[dict[str, Any]]:
    return _svg_set("@tabler/icons", r"package/icons/outline/[a-z0-9-]+\.svg", limit, seed)


def shapes_set(limit: int, seed: int) -> list[dict[str, Any]]:
    out = []
    for k in range(limit):
        rng = np.random.default_rng(seed * 1000 + k)
        big = SIZE * 4  # drawn large and downsampled: anti-aliased edges
        img = Image.new("RGB", (big, big), tuple(int(c) for c in rng.integers(0, 255, 3)))
        d = ImageDraw.Draw(img)
        n = int(rng.integers(4, 16))
        for _ in range(n):
            col = tuple(int(c) for c in rng.integers(0, 255, 3))
            x0, y0 = rng.integers(0, big * 3 // 4, 2)
            w, h = rng.integers(big // 10, big // 2, 2)
            kind = rng.integers(0, 3)
            box = [int(x0), int(y0), int(x0 + w), int(y0 + h)]
            if kind == 0:
                d.rectangle(box, fill=col)
            elif kind == 1:
                d.ellipse(box, fill=col)
            else:
                pts = [(int(a), int(b)) for a, b in rng.integers(0, big, (3, 2))]
                d.polygon(pts, fill=col)
        small = img.resize((SIZE, SIZE), Image.Resampling.BOX)
        out.append({"name": f"shapes{k:02d}", "image": np.asarray(small), "source_paths": n + 1})
    return out


# ---------------------------------------------------------------- methods


def _score(svg: str, image: np.ndarray) -> tuple[float, float]:
    h, w = image.shape[:2]
    rgba = image if image.shape[2] == 4 else np.dstack([image, np.full((h, w), 255, np.uint8)])
    target = composite_white(rgba.astype(np.float64) / 255.0)
    out = composite_white(render_svg(svg, w, h))
    return psnr(target, out), ssim(target, out)


def count_paths(svg: str) -> int:
    return len(re.findall(r"<path\b", svg))


def run_ours(image: np.ndarray, budget: int, iterations: int, seed: int) -> dict[str, Any]:
    cfg = VectorizeConfig(max_paths=budget, iterations=iterations, seed=seed)
    t0 = time.perf_counter()
    res = Vectorizer(cfg).vectorize(image)
    seconds = time.perf_counter() - t0
    p, s = _score(res.svg, image)
    return {
        "paths": count_paths(res.svg),
        "psnr": p,
        "ssim": s,
        "bytes": len(res.svg.encode()),
        "seconds": seconds,
        "preset": res.metrics["preset"],
    }


VT_GRID = list(itertools.product([2, 4, 8, 16, 32, 64, 128], [4, 6, 8], [16, 32, 64, 128]))


def run_vtracer(image: np.ndarray, budget: int) -> dict[str, Any]:
    """Best-PSNR VTracer setting whose path count is at or under ``budget``."""
    import vtracer

    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    png = buf.getvalue()
    best: dict[str, Any] | None = None
    fewest: dict[str, Any] | None = None
    for fs, cp, ld in VT_GRID:
        t0 = time.perf_counter()
        svg = vtracer.convert_raw_image_to_svg(
            png,
            img_format="png",
            colormode="color",
            mode="spline",
            filter_speckle=fs,
            color_precision=cp,
            layer_difference=ld,
        )
        seconds = time.perf_counter() - t0
        n = count_paths(svg)
        row = {"paths": n, "bytes": len(svg.encode()), "seconds": seconds, "params": [fs, cp, ld]}
        if fewest is None or n < fewest["paths"]:
            fewest = {**row, "svg": svg}
        if n > budget:
            continue
        p, s = _score(svg, image)
        row.update(psnr=p, ssim=s)
        if best is None or p > best["psnr"]:
            best = row
    if best is None:  # nothing under budget: report the sparsest setting, flagged
        assert fewest is not None
        p, s = _score(fewest.pop("svg"), image)
        best = {**fewest, "psnr": p, "ssim": s, "over_budget": True}
    return best


# ---------------------------------------------------------------- driver


def machine() -> dict[str, Any]:
    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch
    import vtracer  # noqa: F401

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch": torch.__version__,
        "torch_threads": torch.get_num_threads(),
    }


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    keys = ("psnr", "ssim", "paths", "bytes", "seconds")
    out: dict[str, Any] = {"n": len(rows)}
    for k in keys:
        out[k] = float(np.mean([r[k] for r in rows])) if rows else None
    out["over_budget"] = sum(1 for r in rows if r.get("over_budget"))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "results")
    ap.add_argument("--quick", action="store_true", help="small subset (a few images)")
    ap.add_argument("--sets", default="photo,emoji,icons,shapes")
    ap.add_argument("--budgets", default="64,256,1024", help="budgets for photo and shapes")
    ap.add_argument("--per-set", type=int, default=30, help="images per emoji/icon/shape set")
    ap.add_argument(
        "--default-iterations", type=int, default=100, help="refinement steps of default mode"
    )
    ap.add_argument(
        "--default-sets",
        default="photo,emoji,icons,shapes",
        help="sets on which the default (refining) mode runs",
    )
    ap.add_argument(
        "--default-budgets",
        default="64,256,1024",
        help="photo/shapes budgets on which the default mode runs",
    )
    ap.add_argument(
        "--default-limit", type=int, default=0, help="images per set for default mode (0: all)"
    )
    ap.add_argument("--shapes", type=int, default=12, help="synthetic scenes in the shapes set")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--name", default="", help="results file suffix: vectorize_NAME.{json,md} (partial runs)"
    )
    args = ap.parse_args(argv)

    per_set = 4 if args.quick else args.per_set
    if args.quick and not args.default_limit:
        args.default_limit = 1  # refinement is the slow part on a CPU
    n_photos = 3 if args.quick else len(PHOTOS)
    budgets = [int(b) for b in args.budgets.split(",")]
    if args.quick:
        budgets = [b for b in budgets if b == 256] or budgets[:1]
    default_sets = set(args.default_sets.split(",")) if args.default_sets else set()
    default_budgets = {int(b) for b in args.default_budgets.split(",") if b}

    load_start = os.getloadavg()
    t_start = time.time()
    builders = {
        "photo": lambda: photo_set(n_photos),
        "emoji": lambda: emoji_set(per_set, args.seed),
        "icons": lambda: icons_set(per_set, args.seed),
        "shapes": lambda: shapes_set(min(per_set, args.shapes), args.seed),
    }
    results: dict[str, Any] = {}
    per_image: list[dict[str, Any]] = []
    for set_name in args.sets.split(","):
        images = builders[set_name]()
        # Emoji and icons: the budget is each image's own source path count.
        set_budgets: list[int | None] = [None] if set_name in ("emoji", "icons") else list(budgets)
        for budget in set_budgets:
            label = "source" if budget is None else str(budget)
            modes = ["fast", "vtracer"]
            if set_name in default_sets and (budget is None or budget in default_budgets):
                modes.insert(1, "default")
            rows: dict[str, list[dict[str, Any]]] = {m: [] for m in modes}
            for k, item in enumerate(images):
                b = budget if budget is not None else max(1, int(item["source_paths"]))
                for mode in modes:
                    if mode == "default" and args.default_limit and k >= args.default_limit:
                        continue
                    if mode == "fast":
                        r = run_ours(item["image"], b, 0, args.seed)
                    elif mode == "default":
                        r = run_ours(item["image"], b, args.default_iterations, args.seed)
                    else:
                        r = run_vtracer(item["image"], b)
                    r.update(set=set_name, image=item["name"], budget=b, mode=mode)
                    rows[mode].append(r)
                    per_image.append(r)
                    print(
                        f"{set_name:6s} {label:>6s} {item['name'][:22]:22s} {mode:8s} "
                        f"paths={r['paths']:5d}/{b:<5d} psnr={r['psnr']:6.2f} "
                        f"ssim={r['ssim']:.3f} bytes={r['bytes']:7d} s={r['seconds']:.2f}",
                        file=sys.stderr,
                        flush=True,
                    )
            results.setdefault(set_name, {})[label] = {m: summarize(v) for m, v in rows.items()}
    doc = {
        "machine": machine(),
        "loadavg_start": load_start,
        "loadavg_end": os.getloadavg(),
        "wall_seconds": round(time.time() - t_start, 1),
        "quick": args.quick,
        "config": {
            "size": SIZE,
            "budgets": budgets,
            "default_iterations": args.default_iterations,
            "time_budget": VectorizeConfig.time_budget,
            "default_sets": sorted(default_sets),
            "default_budgets": sorted(default_budgets),
            "default_limit": args.default_limit,
            "per_set": per_set,
            "photos": PHOTOS[:n_photos],
            "seed": args.seed,
            "vtracer_grid": {
                "filter_speckle": sorted({g[0] for g in VT_GRID}),
                "color_precision": sorted({g[1] for g in VT_GRID}),
                "layer_difference": sorted({g[2] for g in VT_GRID}),
            },
        },
        "summary": results,
        "images": per_image,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = (f"_{args.name}" if args.name else "") + ("_quick" if args.quick else "")
    (args.out / f"vectorize{suffix}.json").write_text(json.dumps(doc, indent=1) + "\n")
    (args.out / f"vectorize{suffix}.md").write_text(render_md(doc))
    print(render_md(doc))
    return 0


def render_md(doc: dict[str, Any]) -> str:
    m = doc["machine"]
    lines = [
        "# Vectorizer benchmark",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, torch {m['torch']} "
        f"({m['torch_threads']} threads), Python {m['python']}. Load average at start "
        f"{', '.join(f'{x:.2f}' for x in doc['loadavg_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in doc['loadavg_end'])} (the CPU is shared: seconds "
        "are inflated by other work). Wall time "
        f"{doc['wall_seconds']} s. Images {doc['config']['size']} px; every SVG rendered by "
        "resvg at the input size; PSNR/SSIM on RGB over white.",
        "",
        "Modes: `fast` = `--iterations 0`; `default` = "
        f"`--iterations {doc['config']['default_iterations']}` with the default time budget "
        f"({doc['config'].get('time_budget', '?')} s per image; pydiffvg refinement, the best "
        "iterate kept, never worse than `fast`); "
        "`vtracer` = best-PSNR VTracer setting at or under the budget (grid search).",
        "",
        "| set | budget | mode | n | paths | PSNR dB | SSIM | SVG bytes | s/image |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for set_name, by_budget in doc["summary"].items():
        for budget, by_mode in by_budget.items():
            for mode, s in by_mode.items():
                flag = f" ({s['over_budget']} over)" if s.get("over_budget") else ""
                lines.append(
                    f"| {set_name} | {budget} | {mode} | {s['n']} | {s['paths']:.1f}{flag} | "
                    f"{s['psnr']:.2f} | {s['ssim']:.3f} | {s['bytes']:.0f} | "
                    f"{s['seconds']:.2f} |"
                )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
