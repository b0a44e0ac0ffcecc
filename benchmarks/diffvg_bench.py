"""Speed, memory and quality of the pydiffvg renderer.

Speed/memory: forward and backward time (``render`` then ``sum(img^2).backward()``) and
peak memory of closed 4-cubic blobs (one shape per group, colours with alpha),
superpixel-sized and canvas-sized, and of a layered scene like the vectorizer's (a few
canvas-sized opaque polygons under small ones, through ``render_polygons``), each in a
fresh subprocess (peak RSS from ``resource.getrusage``; on CUDA
``torch.cuda.max_memory_allocated``). Every case runs twice in the same session: with the
current engine and with a baseline revision's ``diffvg/src`` (``--baseline REV``, default
the revision before the edge-driven fill stack), extracted with ``git archive`` into
``benchmarks/.work/``, and the table gives the ratio. Quality (``--quality``): accuracy
against resvg on the 50-scene suite of the unit tests, gradient-vs-finite-difference
cosines and the optimisation PSNR.

Usage: python benchmarks/diffvg_bench.py --out benchmarks/results [--baseline REV]
       [--full] [--quick] [--only KIND,...] [--name NAME] [--glibc-defaults] [--quality]

``tiles`` (``--full`` or ``--only tiles``): a training batch's render, 8 tiles of 224 px
with 128 blobs each and their coverage row (as ``supersvg.vectorizer.models.paths``).
"""

from __future__ import annotations

import argparse
import io
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import tarfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from machine_info import cpu_model

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / ".work"
THREADS = 2
TIME_BUDGET_S = 20.0
LONG_STEP_S = 5.0
# Runs of each case per engine, alternating; the table gives the median round.
DEFAULT_ROUNDS = 3
# Adam steps of the vectorizer refinement case (time per step is their mean).
REFINE_STEPS = 10
# (count, size, kind): the scenes of the renderer's speed targets, then the rest of the
# matrix (``--full``).
TARGET_CASES = (
    (256, 256, "superpixel"),
    (256, 256, "image"),
    (1024, 512, "image"),
    (256, 256, "layered"),
    (256, 256, "refine"),
    (256, 256, "refine_gradients"),
)
# Cases that run the vectorizer: the baseline revision's vectorizer comes with its renderer
# (the same coarse scene: outlines and gradients are recorded per run).
REFINE_KINDS = ("refine", "refine_gradients")
FULL_CASES = tuple(
    (count, size, kind)
    for size in (256, 512)
    for kind in ("superpixel", "image")
    for count in (16, 256, 1024)
    if (count, size, kind) not in TARGET_CASES
)
# A training batch as supersvg.vectorizer.models.paths draws it (--full, or --only tiles).
TRAINING_CASES = ((8, 224, "tiles"),)
# Added by the edge-driven fill stack; the baseline default is the revision before it.
STACK_MODULE = "diffvg/src/pydiffvg/stack.py"


def _scene(count: int, size: int, kind: str, seed: int = 0) -> tuple[list[Any], list[Any]]:
    import torch

    import pydiffvg
    from pydiffvg.testing import blob_path

    gen = torch.Generator().manual_seed(seed)
    # Superpixel-sized: each path covers about its share of the canvas; image-sized: each
    # path spans most of the canvas.
    radius = math.sqrt(size * size / (count * math.pi)) if kind == "superpixel" else 0.4 * size
    shapes, groups = [], []
    for i in range(count):
        centre = torch.rand(2, generator=gen) * size
        path = blob_path(centre, radius, generator=gen, segments=4)
        path.points.requires_grad_(True)
        shapes.append(path)
        colour = torch.rand(4, generator=gen)
        colour[3] = 0.5 + 0.5 * colour[3]
        groups.append(
            pydiffvg.ShapeGroup(
                torch.tensor([i]), colour.requires_grad_(True), use_even_odd_rule=False
            )
        )
    return shapes, groups


def _tiles(count: int, size: int, seed: int = 0) -> tuple[list[Any], list[Any], int, int]:
    """A training batch's render: ``count`` tiles of ``size`` px in a row, 128 blobs each
    as an untrained model draws them (centres near the tile's middle, radii about 0.18 of
    the tile, opaque), over a second row with the same outlines in white (the coverage);
    tiles a gutter of one tile apart. Returns shapes, groups, canvas width and height."""
    import torch

    import pydiffvg
    from pydiffvg.testing import blob_path

    gen = torch.Generator().manual_seed(seed)
    stride = 3 * size
    outlines = []
    for _ in range(count * 128):
        centre = torch.sigmoid(0.5 * torch.randn(2, generator=gen))
        radius = float(torch.sigmoid(-1 + 0.5 * torch.randn(1, generator=gen))) * 0.6 + 0.02
        outlines.append((centre, radius, torch.rand(3, generator=gen)))
    shapes: list[Any] = []
    groups: list[Any] = []
    for row in range(2):
        for i, (centre, radius, rgb) in enumerate(outlines):
            origin = torch.tensor([(i // 128) * stride + size, row * stride + size])
            shapes.append(
                blob_path(origin + centre * size, radius * size, generator=gen, segments=4)
            )
            colour = torch.cat([rgb if row == 0 else torch.ones(3), torch.ones(1)])
            groups.append(
                pydiffvg.ShapeGroup(torch.tensor([len(shapes) - 1]), colour.requires_grad_(True))
            )
    for s in shapes:
        s.points.requires_grad_(True)
    return shapes, groups, stride * count, stride * 2


def _layered(count: int, size: int, seed: int = 0) -> tuple[Any, list[int], Any]:
    """A layered scene as the vectorizer draws it: 16 canvas-sized opaque polygons at the
    bottom, ``count - 16`` small ones on top (mostly opaque), 20-60 vertices each.
    Returns (vertices [N, 2], loop sizes, colours [G, 4]), one loop per group."""
    import torch

    gen = torch.Generator().manual_seed(seed)
    loops, sizes, colours = [], [], []
    for i in range(count):
        big = i < 16
        n = int(torch.randint(20, 61, (1,), generator=gen))
        radius = (
            (0.35 + 0.2 * float(torch.rand(1, generator=gen))) * size
            if big
            else (0.02 + 0.05 * float(torch.rand(1, generator=gen))) * size
        )
        centre = torch.rand(2, generator=gen) * size
        ang = torch.sort(torch.rand(n, generator=gen) * 2 * math.pi).values
        r = radius * (0.7 + 0.3 * torch.rand(n, generator=gen))
        loops.append(centre + torch.stack([r * torch.cos(ang), r * torch.sin(ang)], 1))
        sizes.append(n)
        colour = torch.rand(4, generator=gen)
        colour[3] = 1.0 if big or i % 4 else 0.7 + 0.3 * colour[3]
        colours.append(colour)
    return torch.cat(loops), sizes, torch.stack(colours)


def _refine_case(spec: dict[str, Any]) -> dict[str, Any]:
    """The vectorizer's refinement on a layered photo scene (skimage's astronaut,
    ``count`` outlines, refined at ``size`` px; flat colours, or with ``refine_gradients``
    the gradient fills where they win): seconds per Adam step (render, loss, backward,
    update), timed around ``refine_paths``."""
    import torch
    from skimage import data

    import pydiffvg
    from supersvg.vectorizer import refine
    from supersvg.vectorizer.config import VectorizeConfig
    from supersvg.vectorizer.pipeline import Vectorizer

    torch.set_num_threads(int(spec["threads"]))
    timed: list[tuple[float, float, int, int]] = []
    real = refine.refine_paths

    def timed_refine(*args: Any, **kwargs: Any) -> Any:
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        cpu, start = time.process_time(), time.perf_counter()
        out = real(*args, **kwargs)
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        timed.append((time.perf_counter() - start, time.process_time() - cpu, out[1], faults))
        return out

    refine.refine_paths = timed_refine  # type: ignore[assignment]
    cfg = VectorizeConfig(
        iterations=REFINE_STEPS,
        max_paths=spec["count"],
        refine_size=spec["size"],
        gradients="auto" if spec["kind"] == "refine_gradients" else "off",
        time_budget=0,
        device=spec["device"],
    )
    image = data.astronaut()
    # A first call pays one-time costs (imports, allocator); the second is measured.
    Vectorizer(replace(cfg, iterations=1)).vectorize(image)
    result = Vectorizer(cfg).vectorize(image)
    wall, cpu, steps, faults = timed[-1]
    return {
        **spec,
        "runs": steps,
        "outlines": result.metrics["num_paths"],
        # Older revisions do not report gradient fills: counted from the SVG.
        "gradient_fills": result.svg.count("<linearGradient"),
        "psnr": result.metrics["psnr"],
        "median_ms": 1e3 * wall / steps,
        "min_ms": 1e3 * wall / steps,
        "fwd_ms": float("nan"),
        "bwd_ms": float("nan"),
        "cpu_ms": 1e3 * cpu / steps,
        "faults_per_step": faults / steps,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "pydiffvg": str(Path(pydiffvg.__file__).parent),
        "vectorizer": str(Path(refine.__file__).parent),
    }


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one case in this process (called in a fresh subprocess)."""
    import torch

    import pydiffvg

    if spec["kind"] in REFINE_KINDS:
        return _refine_case(spec)
    torch.set_num_threads(int(spec["threads"]))
    device = torch.device(spec["device"])
    size = spec["size"]
    if spec["kind"] == "layered":
        verts, sizes, colours = _layered(spec["count"], size)
        verts = verts.to(device).requires_grad_(True)
        colours = colours.to(device).requires_grad_(True)
        groups_of_loops = list(range(len(sizes)))

        def draw() -> Any:
            return pydiffvg.render_polygons(
                verts, sizes, groups_of_loops, colours, width=size, height=size
            )
    else:
        width = height = size
        if spec["kind"] == "tiles":
            shapes, groups, width, height = _tiles(spec["count"], size)
        else:
            shapes, groups = _scene(spec["count"], size, spec["kind"])
        if device.type == "cuda":
            for s in shapes:
                s.points = s.points.detach().to(device).requires_grad_(True)
            for g in groups:
                g.fill_color = g.fill_color.detach().to(device).requires_grad_(True)

        def draw() -> Any:
            return pydiffvg.render(shapes, groups, width=width, height=height, samples=2)

    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize()

    def step() -> tuple[float, float, float, int]:
        """(forward s, backward s, CPU s of this process, its minor page faults)."""
        sync()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        cpu_start = time.process_time()
        start = time.perf_counter()
        img = draw()
        sync()
        mid = time.perf_counter()
        img.square().sum().backward()
        sync()
        end = time.perf_counter()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
        return mid - start, end - mid, time.process_time() - cpu_start, faults

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    first = step()  # warm-up (allocator, caches)
    measured: list[tuple[float, float, float, int]] = []
    if first[0] + first[1] > LONG_STEP_S:
        # Steps this long are not dominated by warm-up effects: count the first one.
        measured.append(first)
    while len(measured) < 5 and sum(m[0] + m[1] for m in measured) < TIME_BUDGET_S:
        measured.append(step())
    total = [m[0] + m[1] for m in measured]
    out = {
        **spec,
        "warmup_s": first[0] + first[1],
        "runs": len(measured),
        "median_ms": 1e3 * statistics.median(total),
        "min_ms": 1e3 * min(total),
        "fwd_ms": 1e3 * statistics.median(m[0] for m in measured),
        "bwd_ms": 1e3 * statistics.median(m[1] for m in measured),
        # CPU seconds of this process (all threads) per step: less sensitive to other
        # jobs than wall time on a shared machine.
        "cpu_ms": 1e3 * statistics.median(m[2] for m in measured),
        "faults_per_step": statistics.median(m[3] for m in measured),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "base_rss_mb": base_rss / 2**20,
        "pydiffvg": str(Path(pydiffvg.__file__).parent),
    }
    if device.type == "cuda":
        out["peak_cuda_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def _machine() -> dict[str, Any]:
    import torch

    cpu = cpu_model()
    info = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "torch_threads": THREADS,
    }
    if torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
    return info


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def default_baseline() -> str:
    """The main line just before the edge-driven fill stack: the first parent of the
    main-line commit (a merge) that brought it in. The parent of the commit that wrote it
    would be the older base of its branch, without what landed meanwhile."""
    added = _git(
        "log", "--first-parent", "--diff-filter=A", "--format=%H", "--", STACK_MODULE
    ).splitlines()
    if not added:
        raise SystemExit(f"cannot find the commit that added {STACK_MODULE}; pass --baseline")
    return _git("rev-parse", added[-1] + "^1")


BASELINE_TREES = ("diffvg/src", "services/vectorizer/src")


def extract_baseline(rev: str) -> Path:
    """``diffvg/src`` and ``services/vectorizer/src`` of ``rev`` under
    benchmarks/.work/<sha>; returns that folder."""
    sha = _git("rev-parse", "--verify", rev + "^{commit}")
    dest = WORK / f"baseline-{sha[:12]}"
    if not all((dest / tree).is_dir() for tree in BASELINE_TREES):
        dest.mkdir(parents=True, exist_ok=True)
        blob = subprocess.run(
            ["git", "archive", sha, *BASELINE_TREES], cwd=ROOT, capture_output=True, check=True
        ).stdout
        with tarfile.open(fileobj=io.BytesIO(blob)) as tar:
            tar.extractall(dest, filter="data")
    return dest


def baseline_path(root: Path, kind: str) -> list[Path]:
    """Import roots of the baseline for a case: its renderer, and for the vectorizer's
    cases its vectorizer too."""
    return [root / BASELINE_TREES[0]] + ([root / BASELINE_TREES[1]] if kind in REFINE_KINDS else [])


def _run_subprocess(spec: dict[str, Any], pythonpath: list[Path]) -> dict[str, Any]:
    # OpenMP's default wait policy, as the workers run. PASSIVE (threads sleep between
    # parallel regions) was used here once; it roughly doubled the wall time of scenes
    # made of many small tensor operations, measuring a setting nothing runs with.
    env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"])}
    if spec["allocator"] == "kept":
        # Both engines alike, with the settings the vectorizer's processes apply: glibc
        # keeps freed memory for the next step. (Read in this process, the current tree:
        # the baseline's pydiffvg may predate the module.)
        from pydiffvg.allocator import environment

        env.update(environment())
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps(spec)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=3600,
    )
    if proc.returncode != 0:
        return {**spec, "error": proc.stderr.strip().splitlines()[-1:]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def speed(
    out_dir: Path,
    device: str,
    cases: list[tuple[int, int, str]],
    baseline: str,
    rounds: int = DEFAULT_ROUNDS,
    *,
    allocator: str = "kept",
    name: str | None = None,
) -> None:
    base_root = extract_baseline(baseline)
    results = []
    load_before = os.getloadavg()
    for count, size, kind in cases:
        spec = {
            "device": device,
            "threads": THREADS,
            "count": count,
            "size": size,
            "kind": kind,
            "allocator": allocator,
        }
        engines = [("current", []), ("baseline", baseline_path(base_root, kind))]
        runs: dict[str, list[dict[str, Any]]] = {"current": [], "baseline": []}
        for r in range(rounds):
            # Alternating rounds, each engine in a fresh process: slow drifts of a shared
            # machine's speed fall on both alike.
            for engine, path in engines if r % 2 == 0 else engines[::-1]:
                res = _run_subprocess({**spec, "engine": engine}, path)
                res["loadavg_1m"] = os.getloadavg()[0]
                print(json.dumps(res), flush=True)
                runs[engine].append(res)
        results.append({engine: _median_round(rs) for engine, rs in runs.items()})
    payload = {
        "benchmark": "pydiffvg forward and backward (render + sum(img^2).backward()), "
        "2x2 samples, current engine beside a baseline revision in the same run",
        "machine": _machine(),
        "device": device,
        "baseline_revision": _git("rev-parse", baseline),
        "rounds": rounds,
        "allocator": allocator,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "note": "shared machine: other jobs may be running; loadavg is recorded per case",
        "cases": results,
    }
    name = name or ("diffvg_cpu" if device == "cpu" else "diffvg_cuda") + (
        "" if allocator == "kept" else "_glibc_defaults"
    )
    (out_dir / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    (out_dir / f"{name}.md").write_text(_table(payload))


def _median_round(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The round with the median total time (its own fwd/bwd/CPU/memory figures), with
    every round's total listed."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[0]
    ok.sort(key=lambda r: r["median_ms"])
    return {**ok[(len(ok) - 1) // 2], "rounds_ms": [r["median_ms"] for r in ok]}


def _table(payload: dict[str, Any]) -> str:
    device = payload["device"]
    cuda = device != "cpu"
    load_before, load_after = payload["loadavg_before"][0], payload["loadavg_after"][0]
    lines = [
        f"# pydiffvg forward and backward on {device}",
        "",
        f"Machine: {payload['machine']['cpu']}, {payload['machine']['logical_cpus']} logical "
        f"CPUs, torch {payload['machine']['torch']}, {THREADS} torch threads"
        + (f", GPU {payload['machine'].get('cuda_device')}" if cuda else "")
        + f". Baseline: `{payload['baseline_revision'][:12]}` (`--baseline`; by default "
        "the engine before the edge-driven fill stack), run in the same session.",
        f"Load average (1 min) before: {load_before:.2f}, after: {load_after:.2f}"
        + (
            " (busy machine: wall times are inflated)."
            if max(load_before, load_after) > 1.5
            else "."
        ),
        "",
        "Scenes: closed 4-cubic blobs, one shape per group, colours with alpha "
        "(`superpixel`: each covers its share of the canvas; `image`: canvas-sized); "
        "`tiles`: a training batch (8 tiles of 224 px, 128 opaque blobs each, and their "
        "white coverage row, a tile apart: 2,048 outlines on 5,376 x 1,344 px); "
        "`layered`: 16 canvas-sized opaque polygons under small ones (20-60 vertices, "
        "`render_polygons`); `refine`: the vectorizer's refinement of skimage's astronaut "
        f"(layered outlines, flat colours, {REFINE_STEPS} Adam steps; total = mean time per "
        "step: render, loss, backward, update); `refine_gradients`: the same with gradient "
        "fills where they win (the baseline runs its own vectorizer too; the scenes are "
        "listed below the table). Each engine runs every case in "
        f"{payload.get('rounds', 1)} alternating rounds (fresh processes); a row is the round "
        "with the median total, `rounds ms` lists every round's. Times are medians per "
        "step; `cpu ms` is the process's CPU time per step (all threads); speed-up = "
        "baseline / current, by total wall time and by CPU time; `faults` are the "
        "process's minor page faults per step. OpenMP's default wait policy, as the "
        "workers run. "
        + (
            "Both engines run with the C allocator keeping freed memory "
            "(`pydiffvg.allocator`, as the vectorizer's processes do)."
            if payload.get("allocator", "kept") == "kept"
            else "Both engines run with glibc's default allocator settings (`--glibc-defaults`)."
        ),
        "",
        "| px | scene | shapes | engine | fwd ms | bwd ms | total ms | min ms | cpu ms "
        "| faults | peak RSS MB | load 1m | speed-up wall / cpu | rounds ms |"
        + (" peak CUDA MB |" if cuda else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|" + ("---|" if cuda else ""),
    ]
    for pair in payload["cases"]:
        cur, base = pair["current"], pair["baseline"]
        ratio = (
            f"{base['median_ms'] / cur['median_ms']:.1f}x / {base['cpu_ms'] / cur['cpu_ms']:.1f}x"
            if "error" not in cur and "error" not in base
            else "n/a"
        )
        for engine, r in (("current", cur), ("baseline", base)):
            head = f"| {r['size']} | {r['kind']} | {r['count']} | {engine} |"
            if "error" in r:
                lines.append(f"{head} error: {r['error']} |")
                continue
            row = (
                f"{head} {_ms(r['fwd_ms'])} | {_ms(r['bwd_ms'])} | {r['median_ms']:.0f} | "
                f"{r['min_ms']:.0f} | {r['cpu_ms']:.0f} | "
                f"{r.get('faults_per_step', math.nan):.0f} | {r['peak_rss_mb']:.0f} | "
                f"{r['loadavg_1m']:.2f} | {ratio if engine == 'current' else ''} | "
                f"{', '.join(f'{v:.0f}' for v in r.get('rounds_ms', []))} |"
            )
            if cuda:
                row += f" {r['peak_cuda_mb']:.0f} |"
            lines.append(row)
    scenes = [
        f"- `{r['kind']}`, {engine}: {r['outlines']} outlines, {r['gradient_fills']} gradient "
        f"fills, {r['runs']} steps, PSNR {r['psnr']:.2f} dB"
        for pair in payload["cases"]
        for engine, r in (("current", pair["current"]), ("baseline", pair["baseline"]))
        if "outlines" in r
    ]
    if scenes:
        lines += ["", "Vectorizer cases (the scene each engine refined):", *scenes]
    return "\n".join(lines) + "\n"


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}"


# --------------------------------------------------------------------------- quality


def _resvg(svg: str, size: int) -> Any:
    import numpy as np
    import resvg_py
    from PIL import Image

    png = resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size)
    with Image.open(io.BytesIO(bytes(png))) as im:
        return np.asarray(im.convert("RGBA"), dtype=np.float64) / 255.0


def _premultiply(x: Any) -> Any:
    import numpy as np

    return np.concatenate([x[..., :3] * x[..., 3:], x[..., 3:]], axis=-1)


def quality(out_dir: Path) -> None:
    import numpy as np
    import torch

    import pydiffvg
    from pydiffvg.testing import random_scene

    torch.set_num_threads(1)
    rows = []
    for index in range(50):  # the unit-test suite's scenes
        size = (64, 128, 256, 512)[index % 4]
        count = round(10 ** (3 * ((index * 7) % 50) / 49))
        shapes, groups = random_scene(index, width=size, height=size, num_shapes=count)
        ours = pydiffvg.render(shapes, groups, width=size, height=size).double().numpy()
        ref = _resvg(pydiffvg.scene_to_svg(size, size, shapes, groups), size)
        err = np.abs(_premultiply(ours) - _premultiply(ref))
        rows.append(
            {
                "index": index,
                "size": size,
                "shapes": count,
                "mae": float(err.mean(axis=(0, 1)).max()),
                "p99": float(np.percentile(err.max(axis=-1), 99)),
            }
        )
    maes = [r["mae"] for r in rows]
    p99s = [r["p99"] for r in rows]

    cos: dict[str, list[float]] = {"points": [], "colours": [], "stroke_widths": []}
    for seed in range(4):
        for key, value in _fd_cosines(seed).items():
            cos[key].append(value)
    payload = {
        "accuracy_vs_resvg": {
            "scenes": len(rows),
            "mae_mean": float(np.mean(maes)),
            "mae_max": max(maes),
            "p99_mean": float(np.mean(p99s)),
            "p99_max": max(p99s),
            "per_scene": rows,
        },
        "gradient_cosine_vs_central_fd": {
            k: {"min": min(v), "mean": float(np.mean(v))} for k, v in cos.items() if v
        },
        "optimisation_psnr_db": _optimisation_psnr(),
    }
    (out_dir / "diffvg_quality.json").write_text(json.dumps(payload, indent=2) + "\n")
    acc = payload["accuracy_vs_resvg"]
    lines = [
        "# pydiffvg quality",
        "",
        f"- Accuracy vs resvg over {acc['scenes']} random scenes (premultiplied RGBA): "
        f"worst-channel MAE mean {acc['mae_mean']:.4f}, max {acc['mae_max']:.4f}; "
        f"p99 pixel error mean {acc['p99_mean']:.4f}, max {acc['p99_max']:.4f}.",
    ]
    for k, v in payload["gradient_cosine_vs_central_fd"].items():
        lines.append(
            f"- Gradient cosine vs central differences, {k}: min {v['min']:.4f}, "
            f"mean {v['mean']:.4f}."
        )
    lines.append(
        f"- Adam from a perturbed 32-path scene (64 px, 100 steps): "
        f"{payload['optimisation_psnr_db']:.1f} dB PSNR."
    )
    (out_dir / "diffvg_quality.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def _fd_cosines(seed: int) -> dict[str, float]:
    import torch

    import pydiffvg
    from pydiffvg.testing import random_scene

    f64 = torch.float64
    size = 48
    shapes, groups = random_scene(seed + 100, width=size, height=size, num_shapes=8, dtype=f64)
    for g in groups:
        if isinstance(g.fill_color, torch.Tensor):
            g.fill_color[3] = g.fill_color[3].clamp(max=0.95)
    params: dict[str, list[torch.Tensor]] = {
        "points": [s.points for s in shapes],
        "colours": [g.fill_color for g in groups if isinstance(g.fill_color, torch.Tensor)],
        "stroke_widths": [
            shapes[int(g.shape_ids[0])].stroke_width for g in groups if g.stroke_color is not None
        ],
    }
    for ps in params.values():
        for p in ps:
            p.requires_grad_(True)
    target = torch.rand(size, size, 4, generator=torch.Generator().manual_seed(seed), dtype=f64)

    def loss() -> torch.Tensor:
        return ((pydiffvg.render(shapes, groups, width=size, height=size) - target) ** 2).sum()

    out = {}
    for key, ps in params.items():
        if not ps:
            continue
        grads = torch.autograd.grad(loss(), ps)
        ours, fd = [], []
        step = 1e-4 if key == "colours" else 1e-3
        with torch.no_grad():
            for p, g in zip(ps, grads, strict=True):
                flat = p.data.view(-1)
                for i in range(flat.numel()):
                    keep = float(flat[i])
                    flat[i] = keep + step
                    up = float(loss())
                    flat[i] = keep - step
                    down = float(loss())
                    flat[i] = keep
                    fd.append((up - down) / (2 * step))
                    ours.append(float(g.reshape(-1)[i]))
        u, v = torch.tensor(ours, dtype=f64), torch.tensor(fd, dtype=f64)
        out[key] = float(u @ v / (u.norm() * v.norm()))
    return out


def _optimisation_psnr() -> float:
    import torch

    import pydiffvg
    from pydiffvg.testing import random_scene

    size = 64
    shapes, groups = random_scene(
        7, width=size, height=size, num_shapes=32, strokes=False, holes=False
    )
    bg = torch.ones(size, size, 3)
    with torch.no_grad():
        target = pydiffvg.render(shapes, groups, width=size, height=size, background=bg)[..., :3]
    gen = torch.Generator().manual_seed(7)
    pts = [
        (s.points + 1.5 * torch.randn(s.points.shape, generator=gen)).requires_grad_()
        for s in shapes
    ]
    cols = [
        (g.fill_color + 0.1 * torch.randn(4, generator=gen)).clamp(0, 1).requires_grad_()
        for g in groups
    ]
    for s, p in zip(shapes, pts, strict=True):
        s.points = p
    for g, c in zip(groups, cols, strict=True):
        g.fill_color = c
    opt = torch.optim.Adam([{"params": pts, "lr": 0.1}, {"params": cols, "lr": 0.01}])
    for _ in range(100):
        opt.zero_grad()
        img = pydiffvg.render(shapes, groups, width=size, height=size, background=bg)[..., :3]
        ((img - target) ** 2).mean().backward()
        opt.step()
        with torch.no_grad():
            for c in cols:
                c.clamp_(0, 1)
    with torch.no_grad():
        img = pydiffvg.render(shapes, groups, width=size, height=size, background=bg)[..., :3]
    return float(10 * torch.log10(1 / ((img - target) ** 2).mean()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument("--quality", action="store_true", help="also measure quality")
    parser.add_argument("--full", action="store_true", help="also the rest of the matrix")
    parser.add_argument("--quick", action="store_true", help="skip the 512 px / 1024-path cases")
    parser.add_argument("--baseline", help="revision to compare with (default: before the stack)")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument(
        "--rounds", type=int, default=DEFAULT_ROUNDS, help="alternating runs per engine"
    )
    parser.add_argument(
        "--glibc-defaults",
        action="store_true",
        help="run both engines with glibc's allocator defaults (results *_glibc_defaults.*)",
    )
    parser.add_argument("--only", help="comma-separated scene kinds to run (default: all)")
    parser.add_argument(
        "--name", help="results file name for the CPU run (default diffvg_cpu[_glibc_defaults])"
    )
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.skip_speed:
        import torch

        cases = list(TARGET_CASES)
        if args.full:
            cases += list(FULL_CASES) + list(TRAINING_CASES)
        if args.quick:
            cases = [c for c in cases if c[0] < 1024 and c[1] < 512]
        if args.only:
            # The training batch is not in the default run but can be picked alone.
            known = cases + [c for c in TRAINING_CASES if c not in cases]
            cases = [c for c in known if c[2] in args.only.split(",")]
        baseline = args.baseline or default_baseline()
        allocator = "glibc" if args.glibc_defaults else "kept"
        speed(args.out, "cpu", cases, baseline, args.rounds, allocator=allocator, name=args.name)
        if torch.cuda.is_available():
            speed(args.out, "cuda", cases, baseline, args.rounds, allocator=allocator)
    if args.quality:
        quality(args.out)


if __name__ == "__main__":
    main()
