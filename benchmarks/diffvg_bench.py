"""Speed, memory and quality of the pydiffvg renderer.

Speed/memory: forward+backward time and peak memory for 16 / 256 / 1024 closed cubic paths
(4 segments each), superpixel-sized and image-sized, at 256 and 512 px, in a fresh
subprocess per case (peak RSS from ``resource.getrusage``; on CUDA
``torch.cuda.max_memory_allocated``). Quality (``--quality``): accuracy against resvg on
the 50-scene suite of the unit tests, gradient-vs-finite-difference cosines and the
optimisation PSNR.

Usage: python benchmarks/diffvg_bench.py --out benchmarks/results [--quality] [--quick]
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
import time
from pathlib import Path
from typing import Any

from machine_info import cpu_model

COUNTS = (16, 256, 1024)
RESOLUTIONS = (256, 512)
KINDS = ("superpixel", "image")
THREADS = 2
TIME_BUDGET_S = 20.0
LONG_STEP_S = 5.0


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


def run_case(spec: dict[str, Any]) -> dict[str, Any]:
    """Measure one case in this process (called in a fresh subprocess)."""
    import torch

    import pydiffvg

    torch.set_num_threads(int(spec["threads"]))
    device = torch.device(spec["device"])
    shapes, groups = _scene(spec["count"], spec["size"], spec["kind"])
    if device.type == "cuda":
        for s in shapes:
            s.points = s.points.detach().to(device).requires_grad_(True)
        for g in groups:
            g.fill_color = g.fill_color.detach().to(device).requires_grad_(True)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    cpu_times: list[float] = []

    def step() -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        cpu_start = time.process_time()
        start = time.perf_counter()
        img = pydiffvg.render(shapes, groups, width=spec["size"], height=spec["size"], samples=2)
        img.square().sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize()
        cpu_times.append(time.process_time() - cpu_start)
        return time.perf_counter() - start

    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = [step()]  # warm-up (allocator, caches)
    measured: list[float] = []
    if times[0] > LONG_STEP_S:
        # Steps this long are not dominated by warm-up effects: count the first one.
        measured.append(times[0])
        cpu_times.insert(0, cpu_times[0])
    while len(measured) < 5 and sum(measured) < TIME_BUDGET_S:
        measured.append(step())
    out = {
        **spec,
        "warmup_s": times[0],
        "runs": len(measured),
        "median_ms": 1e3 * statistics.median(measured),
        "min_ms": 1e3 * min(measured),
        # CPU seconds of this process (all threads) per step: less sensitive to other
        # jobs than wall time on a shared machine.
        "cpu_ms": 1e3 * statistics.median(cpu_times[1:]),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "base_rss_mb": base_rss / 2**20,
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


def _run_subprocess(spec: dict[str, Any]) -> dict[str, Any]:
    # Passive waiting: spinning OpenMP workers only steal cycles on a shared machine.
    env = {**os.environ, "OMP_NUM_THREADS": str(spec["threads"]), "OMP_WAIT_POLICY": "PASSIVE"}
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


def speed(out_dir: Path, device: str, quick: bool) -> None:
    results = []
    load_before = os.getloadavg()
    specs = [
        {"device": device, "threads": THREADS, "count": count, "size": size, "kind": kind}
        for size in RESOLUTIONS
        for kind in KINDS
        for count in COUNTS
        if not (quick and (count == 1024 or size == 512))
    ]
    if device == "cpu":
        # One thread as well: on a loaded machine two-thread ops wait for a second core.
        specs += [{**s, "threads": 1} for s in specs if s["kind"] == "superpixel"]
    for spec in specs:
        res = _run_subprocess(spec)
        res["loadavg_1m"] = os.getloadavg()[0]
        results.append(res)
        print(json.dumps(res), flush=True)
    payload = {
        "benchmark": "pydiffvg forward+backward (render + sum(img^2).backward), 2x2 samples",
        "machine": _machine(),
        "device": device,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg(),
        "note": "shared machine: other jobs were running; loadavg is recorded per case",
        "cases": results,
    }
    name = "diffvg_cpu" if device == "cpu" else "diffvg_cuda"
    (out_dir / f"{name}.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        f"# pydiffvg forward+backward on {device}",
        "",
        f"Machine: {payload['machine']['cpu']}, {payload['machine']['logical_cpus']} logical "
        f"CPUs, torch {payload['machine']['torch']}, torch threads as listed"
        + (f", GPU {payload['machine'].get('cuda_device')}" if device != "cpu" else "")
        + ".",
        f"Load average (1 min) before: {load_before[0]:.2f}, after: {os.getloadavg()[0]:.2f} "
        "(shared machine; re-run on a quiet one for clean numbers).",
        "",
        "Times are forward + backward per step; `cpu ms` is this process's CPU time per step "
        "(all threads), a load-insensitive estimate of the wall time on a quiet machine.",
        "",
        "| px | shapes | paths | threads | median ms | min ms | cpu ms | peak RSS MB | load 1m |"
        + (" peak CUDA MB |" if device != "cpu" else ""),
        "|---|---|---|---|---|---|---|---|---|" + ("---|" if device != "cpu" else ""),
    ]
    for r in results:
        if "error" in r:
            lines.append(f"| {r['size']} | {r['kind']} | {r['count']} | error: {r['error']} |")
            continue
        row = (
            f"| {r['size']} | {r['kind']} | {r['count']} | {r['threads']} | "
            f"{r['median_ms']:.1f} | {r['min_ms']:.1f} | {r['cpu_ms']:.1f} | "
            f"{r['peak_rss_mb']:.0f} | {r['loadavg_1m']:.2f} |"
        )
        if device != "cpu":
            row += f" {r['peak_cuda_mb']:.0f} |"
        lines.append(row)
    (out_dir / f"{name}.md").write_text("\n".join(lines) + "\n")


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
    parser.add_argument("--quick", action="store_true", help="skip the 512 px / 1024-path cases")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(json.loads(args.case))))
        return
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.skip_speed:
        import torch

        speed(args.out, "cpu", args.quick)
        if torch.cuda.is_available():
            speed(args.out, "cuda", args.quick)
    if args.quality:
        quality(args.out)


if __name__ == "__main__":
    main()
