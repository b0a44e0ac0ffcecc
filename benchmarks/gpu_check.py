"""One prepared check of the CUDA paths (``make gpu-check``): tests, renderer, vectorizer,
training, each beside the CPU figures of the same run.

1. the ``gpu``-marked tests (``pytest -m gpu``);
2. the renderer: forward and backward time and peak GPU memory on the benchmark's scenes
   (256 superpixel-sized and 256 canvas-sized blobs at 256 px, 1024 canvas-sized at 512 px;
   2x2 samples), the CPU time of the same scenes beside;
3. the vectorizer, ``device="cuda"`` against ``"cpu"``: photos (scikit-image) and flat
   shapes at budgets 64 / 256 / 1024: PSNR, outlines, seconds;
4. training: ``supersvg train --config paper`` for a fixed number of steps with and
   without AMP (steps/s, samples/s, peak GPU memory).

Without CUDA it says so, runs what it can (the test selection, which then skips) and
writes nothing to ``benchmarks/results``. With CUDA it writes ``gpu_check_cuda.{json,md}``
(device name, driver and torch versions). Each part has a time limit so that the whole
check stays under ten minutes on one GPU.

    python benchmarks/gpu_check.py --out benchmarks/results [--quick]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
RENDER_SCENES = [(256, 256, "superpixel"), (256, 256, "image"), (1024, 512, "image")]
BUDGETS = (64, 256, 1024)
PHOTOS = ("astronaut", "coffee", "chelsea", "camera")


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.cuda.is_available(),
        "load_average_1m": round(os.getloadavg()[0], 2),
    }
    if torch.cuda.is_available():
        info["device"] = torch.cuda.get_device_name(0)
        info["torch_cuda"] = torch.version.cuda
        try:
            out = subprocess.run(
                ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                capture_output=True,
                text=True,
                timeout=20,
                check=False,
            )
            info["driver"] = out.stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            info["driver"] = "unknown (nvidia-smi not found)"
    return info


def gpu_tests(timeout: float) -> dict[str, Any]:
    """Run the gpu-marked tests; returns pytest's closing line and exit code."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:randomly", "tests"]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"exit_code": None, "summary": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    return {"exit_code": proc.returncode, "summary": lines[-1] if lines else ""}


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def render_case(count: int, size: int, kind: str, device: str, steps: int) -> dict[str, Any]:
    """Median forward and backward milliseconds of one benchmark scene."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from diffvg_bench import _scene

    import pydiffvg

    shapes, groups = _scene(count, size, kind)
    for s in shapes:
        s.points = s.points.detach().to(device).requires_grad_(True)
    for g in groups:
        g.fill_color = g.fill_color.detach().to(device).requires_grad_(True)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    fwd: list[float] = []
    bwd: list[float] = []
    for i in range(steps + 1):
        _sync(device)
        t0 = time.perf_counter()
        img = pydiffvg.render(shapes, groups, width=size, height=size, samples=2, device=device)
        _sync(device)
        t1 = time.perf_counter()
        img.square().sum().backward()
        _sync(device)
        t2 = time.perf_counter()
        if i:  # the first step pays allocation and kernel start-up
            fwd.append(1e3 * (t1 - t0))
            bwd.append(1e3 * (t2 - t1))
    out: dict[str, Any] = {
        "scene": f"{count} {kind} @ {size}px",
        "device": device,
        "fwd_ms": round(float(np.median(fwd)), 2),
        "bwd_ms": round(float(np.median(bwd)), 2),
    }
    out["total_ms"] = round(out["fwd_ms"] + out["bwd_ms"], 2)
    if device == "cuda":
        out["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    return out


def _images() -> list[tuple[str, np.ndarray]]:
    from PIL import Image
    from skimage import data

    from supersvg.vectorizer.metrics import render_svg

    out = []
    for name in PHOTOS:
        img = Image.fromarray(getattr(data, name)()).convert("RGB")
        f = 256 / max(img.size)
        img = img.resize((round(img.size[0] * f), round(img.size[1] * f)), Image.LANCZOS)
        out.append((name, np.asarray(img)))
    shapes = (
        '<svg xmlns="http://www.w3.org/2000/svg" width="256" height="256">'
        '<rect width="256" height="256" fill="#f7f3ea"/>'
        '<circle cx="90" cy="100" r="60" fill="#c8372d"/>'
        '<rect x="120" y="120" width="110" height="100" rx="20" fill="#2d6cc8"/></svg>'
    )
    out.append(("shapes", (render_svg(shapes, 256, 256) * 255).round().astype(np.uint8)))
    return out


def vectorize_case(name: str, image: np.ndarray, budget: int, device: str) -> dict[str, Any]:
    from supersvg.vectorizer import VectorizeConfig, Vectorizer

    cfg = VectorizeConfig(max_paths=budget, device=device)
    t0 = time.perf_counter()
    res = Vectorizer(cfg).vectorize(image)
    return {
        "image": name,
        "budget": budget,
        "device": device,
        "outlines": res.num_paths,
        "psnr": res.metrics["psnr"],
        "iterations": res.metrics["iterations"],
        "refine": res.metrics["refine"],
        "seconds": round(time.perf_counter() - t0, 2),
    }


def train_case(amp: bool, steps: int) -> dict[str, Any]:
    from supersvg.datasets import generate_test
    from supersvg.vectorizer.train import TrainOptions, run_training

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        generate_test(data, count=64)
        torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        run_training(
            TrainOptions(
                data=data,
                output=Path(tmp) / "run",
                config="paper",
                batch_size=16,
                max_steps=steps,
                device="cuda",
                amp=amp,
                checkpoint_every=10**9,
                preview_every=10**9,
                log_every=10**9,
            )
        )
        wall = time.perf_counter() - t0
    return {
        "config": "paper",
        "amp": amp,
        "steps": steps,
        "steps_per_second": round(steps / wall, 3),
        "samples_per_second": round(16 * steps / wall, 2),
        "peak_gpu_mib": round(torch.cuda.max_memory_allocated() / 2**20, 1),
        "note": "wall time of the whole run (data loading and start-up included)",
    }


def write(out: Path, report: dict[str, Any]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check_cuda.json").write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine"]
    lines = [
        "# GPU check (CUDA paths beside the CPU of the same run)",
        "",
        f"Device: {m.get('device')}, driver {m.get('driver')}, torch {m['torch']} "
        f"(CUDA {m.get('torch_cuda')}), Python {m['python']}; written by "
        "`benchmarks/gpu_check.py`.",
        "",
        f"GPU tests: `{report['tests']['summary']}` (exit {report['tests']['exit_code']}).",
        "",
        "| renderer scene | device | fwd ms | bwd ms | total ms | peak GPU MiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in report["render"]:
        lines.append(
            f"| {r['scene']} | {r['device']} | {r['fwd_ms']} | {r['bwd_ms']} | "
            f"{r['total_ms']} | {r.get('peak_gpu_mib', '')} |"
        )
    lines += [
        "",
        "| image | budget | device | outlines | PSNR dB | steps | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in report["vectorize"]:
        lines.append(
            f"| {r['image']} | {r['budget']} | {r['device']} | {r['outlines']} | "
            f"{r['psnr']} | {r['iterations']} | {r['seconds']} |"
        )
    lines += [
        "",
        "| training | AMP | steps/s | samples/s | peak GPU MiB |",
        "|---|---|---|---|---|",
    ]
    for r in report["train"]:
        lines.append(
            f"| {r['config']} | {r['amp']} | {r['steps_per_second']} | "
            f"{r['samples_per_second']} | {r['peak_gpu_mib']} |"
        )
    targets = report.get("targets", {})
    lines += ["", "Targets: " + ", ".join(f"{k}: {v}" for k, v in targets.items())]
    (out / "gpu_check_cuda.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--quick", action="store_true", help="fewer steps and images")
    args = ap.parse_args(argv)
    report: dict[str, Any] = {"machine": machine()}
    cuda = torch.cuda.is_available()
    print(f"machine: {json.dumps(report['machine'])}", flush=True)
    report["tests"] = gpu_tests(timeout=180)
    print(f"gpu tests: {report['tests']['summary']}", flush=True)
    if not cuda:
        print(
            "gpu-check: no CUDA device here. Skipped: renderer, vectorizer and training on "
            "CUDA (nothing written). The gpu-marked tests above ran and skipped.",
            flush=True,
        )
        return 0 if report["tests"]["exit_code"] in (0, 5) else 1
    steps = 3 if args.quick else 10
    report["render"] = []
    for count, size, kind in RENDER_SCENES:
        for device in ("cuda", "cpu"):
            if device == "cpu" and count * size > 256 * 256 and args.quick:
                continue
            row = render_case(count, size, kind, device, steps if device == "cuda" else 2)
            report["render"].append(row)
            print(f"render: {row}", flush=True)
    report["vectorize"] = []
    images = _images()[: 2 if args.quick else None]
    for name, image in images:
        for budget in BUDGETS:
            for device in ("cuda", "cpu"):
                row = vectorize_case(name, image, budget, device)
                report["vectorize"].append(row)
                print(f"vectorize: {row}", flush=True)
    report["train"] = [train_case(amp, 10 if args.quick else 40) for amp in (True, False)]
    for row in report["train"]:
        print(f"train: {row}", flush=True)
    cuda_256 = next(r for r in report["render"] if r["scene"] == "256 superpixel @ 256px")
    vec_cuda = [r["seconds"] for r in report["vectorize"] if r["device"] == "cuda"]
    report["targets"] = {
        "renderer 256 paths @256 fwd+bwd < 5 ms": f"{cuda_256['total_ms']} ms",
        "vectorizer default < 1 s per 256 px image": f"mean {np.mean(vec_cuda):.2f} s",
    }
    report["finite"] = all(math.isfinite(r["psnr"]) for r in report["vectorize"])
    write(args.out, report)
    print(f"wrote {args.out / 'gpu_check_cuda.md'}", flush=True)
    return 0 if report["tests"]["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
