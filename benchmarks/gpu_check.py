"""One prepared check of the CUDA paths (``make gpu-check``): tests, renderer, vectorizer,
training, each beside the CPU figures of the same run.

1. the ``gpu``-marked tests (``pytest -m gpu``);
2. the renderer: forward and backward time and peak GPU memory on the benchmark's scenes
   (256 superpixel-sized and 256 canvas-sized blobs at 256 px, 1024 canvas-sized at 512 px;
   2x2 samples), the CPU time of the same scenes beside;
3. training: ``supersvg train --config paper`` for a fixed number of steps with and
   without AMP (steps/s, samples/s, peak GPU memory);
4. the vectorizer, ``device="cuda"`` against ``"cpu"``: photos (scikit-image) and flat
   shapes at budgets 256 / 64 / 1024: PSNR, outlines, seconds.

Without CUDA it says so, runs what it can (the test selection, which then skips) and
writes nothing to ``benchmarks/results``. With CUDA it writes ``gpu_check_cuda.{json,md}``
(device name, driver and torch versions) after each part. A case that raises becomes a
row saying what broke, and the check goes on; cases that would start after ``--seconds``
seconds are listed as not run, so the check fits a lent GPU's time.

    python benchmarks/gpu_check.py --out benchmarks/results [--quick] [--seconds 540]
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
import traceback
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
        "cpu_threads": torch.get_num_threads(),
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


def gpu_test_files() -> list[str]:
    """Test files that carry the ``gpu`` mark (collecting every test would import the
    services' dependencies, which a GPU node running the vectorizer need not have)."""
    return sorted(
        str(f.relative_to(ROOT))
        for f in (ROOT / "tests").rglob("test_*.py")
        if "pytest.mark.gpu" in f.read_text()
    )


def gpu_tests(timeout: float) -> dict[str, Any]:
    """Run the gpu-marked tests; returns pytest's closing line and exit code."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:randomly"]
    # The Kubernetes API fixtures (kmock, kubernetes) serve no GPU test.
    cmd += ["-p", "no:tools.testing.kube.fixtures", *gpu_test_files()]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        return {"exit_code": None, "summary": f"timed out after {timeout:.0f} s"}
    lines = [ln for ln in proc.stdout.strip().splitlines() if ln.strip()]
    out: dict[str, Any] = {"exit_code": proc.returncode, "summary": lines[-1] if lines else ""}
    if proc.returncode not in (0, 5):
        out["failures"] = [ln for ln in lines if ln.startswith(("FAILED", "ERROR"))][:20]
        out["output_tail"] = (proc.stdout + proc.stderr)[-6000:]
    return out


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def _scene_on(count: int, size: int, kind: str, device: str) -> tuple[list[Any], list[Any]]:
    """A benchmark scene on ``device``, its points and fill colours requiring gradients."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from diffvg_bench import _scene

    shapes, groups = _scene(count, size, kind)
    for s in shapes:
        s.points = s.points.detach().to(device).requires_grad_(True)
    for g in groups:
        g.fill_color = g.fill_color.detach().to(device).requires_grad_(True)
    return shapes, groups


def render_case(count: int, size: int, kind: str, device: str, steps: int) -> dict[str, Any]:
    """Median forward and backward milliseconds of one benchmark scene."""
    import pydiffvg

    shapes, groups = _scene_on(count, size, kind, device)
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
        img = img.resize((round(img.size[0] * f), round(img.size[1] * f)), Image.Resampling.LANCZOS)
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


def profile_case(count: int, size: int, kind: str, device: str) -> dict[str, Any]:
    """Where a render step's time goes: kernel launches and device-to-host copies (each
    one waits for the device) per forward and backward step, and the device's busy time."""
    from torch.profiler import DeviceType, ProfilerActivity, profile

    import pydiffvg

    shapes, groups = _scene_on(count, size, kind, device)

    def step() -> None:
        img = pydiffvg.render(shapes, groups, width=size, height=size, samples=2, device=device)
        img.square().sum().backward()
        _sync(device)

    step()
    step()
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
    t0 = time.perf_counter()
    with profile(activities=activities) as prof:
        step()
    wall = time.perf_counter() - t0
    events = prof.key_averages()
    on_device = [e for e in events if e.device_type == DeviceType.CUDA]
    kernels = sum(e.count for e in on_device if "Memcpy" not in e.key and "Memset" not in e.key)
    to_host = sum(e.count for e in on_device if "DtoH" in e.key)
    busy_us = sum(getattr(e, "self_device_time_total", 0) for e in on_device)
    return {
        "scene": f"{count} {kind} @ {size}px",
        "device": device,
        "kernels_per_step": kernels,
        "device_to_host_copies_per_step": to_host,
        "device_busy_ms": round(busy_us / 1e3, 2),
        "profiled_step_ms": round(1e3 * wall, 2),
        "cpu_op_events_per_step": sum(e.count for e in events if e.device_type == DeviceType.CPU),
    }


def train_case(amp: bool, steps: int, workers: int = 0, device: str = "cuda") -> dict[str, Any]:
    """``supersvg train --config paper`` for ``steps`` steps after an untimed two-step run
    in the same process (CUDA context, cuDNN autotuning, allocator pools)."""
    from supersvg.datasets import generate_test
    from supersvg.vectorizer.train import TrainOptions, run_training

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        generate_test(data, count=64)

        def train(n: int, name: str) -> None:
            run_training(
                TrainOptions(
                    data=data,
                    output=Path(tmp) / name,
                    config="paper",
                    batch_size=16,
                    max_steps=n,
                    device=device,
                    amp=amp,
                    num_workers=workers,
                    checkpoint_every=10**9,
                    preview_every=10**9,
                    log_every=10**9,
                )
            )

        train(2, "warm-up")
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        train(steps, "run")
        wall = time.perf_counter() - t0
    return {
        "config": "paper",
        "amp": amp,
        "workers": workers,
        "steps": steps,
        "steps_per_second": round(steps / wall, 3),
        "samples_per_second": round(16 * steps / wall, 2),
        "peak_gpu_mib": (
            round(torch.cuda.max_memory_allocated() / 2**20, 1) if device == "cuda" else ""
        ),
        "note": "wall time of a whole run (its data loading included) after a warm-up run",
    }


def _guarded(part: str, fn: Any, *args: Any) -> dict[str, Any]:
    """One case; an exception becomes a row that says what broke (the check goes on)."""
    try:
        return dict(fn(*args))
    except Exception as exc:  # reported in the results, not hidden
        tail = traceback.format_exc().strip().splitlines()[-12:]
        named = [a if isinstance(a, (int, float, str, bool)) else type(a).__name__ for a in args]
        return {"part": part, "args": named, "error": repr(exc), "trace": tail}


def write(out: Path, report: dict[str, Any]) -> None:
    """Write what has run so far (a check cut short still leaves its results)."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check_cuda.json").write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine"]
    tests = report.get("tests", {})
    lines = [
        "# GPU check (CUDA paths beside the CPU of the same run)",
        "",
        f"Device: {m.get('device')}, driver {m.get('driver')}, torch {m['torch']} "
        f"(CUDA {m.get('torch_cuda')}), Python {m['python']}, {m.get('cpu_threads')} CPU "
        "threads for the CPU rows; written by `benchmarks/gpu_check.py`.",
        "",
        f"GPU tests: `{tests.get('summary')}` (exit {tests.get('exit_code')}).",
    ]
    lines += [f"- {f}" for f in tests.get("failures", [])]
    for run in report.get("runs", [])[1:]:
        lines.append(
            f"Merged with a later run (`--merge`) on {run.get('device')}, driver "
            f"{run.get('driver')}, torch {run['torch']}: its rows replace the same cases."
        )
    errors = [r for part in PARTS[1:] for r in report.get(part, []) if "error" in r]
    rows = {part: [r for r in report.get(part, []) if "error" not in r] for part in PARTS[1:]}
    if rows["profile"]:
        lines += [
            "",
            "| profiled step (fwd+bwd) | kernels | device-to-host copies | device busy ms "
            "| step ms under the profiler (its start included) |",
            "|---|---|---|---|---|",
        ]
        for r in rows["profile"]:
            lines.append(
                f"| {r['scene']} {r['device']} | {r['kernels_per_step']} | "
                f"{r['device_to_host_copies_per_step']} | {r['device_busy_ms']} | "
                f"{r['profiled_step_ms']} |"
            )
    lines += [
        "",
        "| renderer scene | device | fwd ms | bwd ms | total ms | peak GPU MiB |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows["render"]:
        lines.append(
            f"| {r['scene']} | {r['device']} | {r['fwd_ms']} | {r['bwd_ms']} | "
            f"{r['total_ms']} | {r.get('peak_gpu_mib', '')} |"
        )
    lines += [
        "",
        "| image | budget | device | outlines | PSNR dB | steps | refinement | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows["vectorize"]:
        lines.append(
            f"| {r['image']} | {r['budget']} | {r['device']} | {r['outlines']} | "
            f"{r['psnr']} | {r['iterations']} | {r['refine']} | {r['seconds']} |"
        )
    lines += [
        "",
        "| training | AMP | loader workers | steps | steps/s | samples/s | peak GPU MiB |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows["train"]:
        lines.append(
            f"| {r['config']} | {r['amp']} | {r.get('workers', 0)} | {r['steps']} | "
            f"{r['steps_per_second']} | {r['samples_per_second']} | {r['peak_gpu_mib']} |"
        )
    if rows["train"]:
        lines.append(f"\nTraining: {rows['train'][0]['note']}.")
    if errors:
        lines += ["", "Errors:"] + [f"- {r['part']} {r['args']}: {r['error']}" for r in errors]
    if report.get("skipped"):
        lines += ["", "Not run (time limit): " + "; ".join(dict.fromkeys(report["skipped"]))]
    targets = report.get("targets", {})
    if targets:
        lines += ["", "Targets: " + ", ".join(f"{k}: {v}" for k, v in targets.items())]
    (out / "gpu_check_cuda.md").write_text("\n".join(lines) + "\n")


PARTS = ("tests", "profile", "render", "train", "vectorize")


def _case(row: dict[str, Any]) -> str:
    """A vectorizer row's case, named as the time limit's list names it (``--merge``)."""
    if "error" in row:
        image, _, budget, device = row["args"]
        return f"{image} @{budget} {device}"
    return f"{row['image']} @{row['budget']} {row['device']}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--quick", action="store_true", help="fewer steps and images")
    ap.add_argument(
        "--seconds", type=float, default=540.0, help="time for the whole check (default 540)"
    )
    ap.add_argument("--parts", default=",".join(PARTS), help="comma-separated subset of PARTS")
    ap.add_argument("--budgets", default="256,64,1024", help="vectorizer outline budgets")
    ap.add_argument(
        "--merge",
        action="store_true",
        help="add to the results already in --out: this run's vectorizer cases replace the "
        "same cases, other parts run now replace theirs",
    )
    args = ap.parse_args(argv)
    parts = [p for p in args.parts.split(",") if p]
    if unknown := set(parts) - set(PARTS):
        ap.error(f"unknown parts {sorted(unknown)}; choose from {','.join(PARTS)}")
    deadline = time.monotonic() + args.seconds
    report: dict[str, Any] = {"machine": machine(), "skipped": []}
    previous: dict[str, Any] = {}
    if args.merge and (args.out / "gpu_check_cuda.json").is_file():
        previous = json.loads((args.out / "gpu_check_cuda.json").read_text())
    cuda = torch.cuda.is_available()
    print(f"machine: {json.dumps(report['machine'])}", flush=True)
    if "tests" in parts:
        report["tests"] = gpu_tests(timeout=min(240.0, args.seconds / 3))
        print(f"gpu tests: {report['tests']['summary']}", flush=True)
        for line in report["tests"].get("failures", []):
            print(f"  {line}", flush=True)
        if not cuda:
            print(
                "gpu-check: no CUDA device here. Skipped: renderer, vectorizer and training "
                "on CUDA (nothing written). The gpu-marked tests above ran and skipped.",
                flush=True,
            )
            return 0 if report["tests"]["exit_code"] in (0, 5) else 1
    if not cuda:
        print("gpu-check: no CUDA device here; nothing run, nothing written.", flush=True)
        return 0

    def left(what: str, need: float) -> bool:
        if deadline - time.monotonic() > need:
            return True
        report["skipped"].append(what)
        return False

    def add(part: str, row: dict[str, Any]) -> None:
        report.setdefault(part, []).append(row)
        print(f"{part}: {row}", flush=True)

    def save() -> None:
        merged = dict(report)
        if previous:
            merged["runs"] = [*previous.get("runs", [previous["machine"]]), report["machine"]]
            merged["machine"] = previous["machine"]
            if "tests" not in report and "tests" in previous:
                merged["tests"] = previous["tests"]
            for part in PARTS[1:-1]:  # run again: this run's rows replace the part
                if part not in parts:
                    merged[part] = previous.get(part, [])
            # Vectorizer cases: this run's replace the same cases, the others are kept.
            mine = {_case(r) for r in report.get("vectorize", [])}
            merged["vectorize"] = [
                r for r in previous.get("vectorize", []) if _case(r) not in mine
            ] + report.get("vectorize", [])
            done = {_case(r) for r in merged["vectorize"]}
            merged["skipped"] = [
                w for w in previous.get("skipped", []) + report["skipped"]
                if w.removeprefix("vectorize ") not in done
            ]  # fmt: skip
        _targets(merged)
        write(args.out, merged)

    save()
    steps = 3 if args.quick else 10
    if "profile" in parts and left("profile", 30):
        add("profile", _guarded("profile", profile_case, 256, 256, "superpixel", "cuda"))
        save()
    if "render" in parts:
        for count, size, kind in RENDER_SCENES:
            for device in ("cuda", "cpu"):
                if not left(f"render {count} {kind} @{size} {device}", 30):
                    continue
                n = steps if device == "cuda" else 2
                add("render", _guarded("render", render_case, count, size, kind, device, n))
        save()
    if "train" in parts:
        # Without and with data-loading workers (16 CPU cores beside the GPU), then AMP.
        for amp, workers in ((False, 0), (False, 8), (True, 8)):
            if left(f"train amp={amp} workers={workers}", 60):
                n = 5 if args.quick else 16
                add("train", _guarded("train", train_case, amp, n, workers))
                save()
    if "vectorize" in parts:
        images = _images()[: 2 if args.quick else None]
        # Budgets outermost: every image at the first budget before any at the next.
        for budget in (int(b) for b in args.budgets.split(",")):
            for name, image in images:
                for device in ("cuda", "cpu"):
                    if not left(f"vectorize {name} @{budget} {device}", 25):
                        continue
                    add(
                        "vectorize",
                        _guarded("vectorize", vectorize_case, name, image, budget, device),
                    )
                save()
    save()
    print(f"wrote {args.out / 'gpu_check_cuda.md'}", flush=True)
    broken = any("error" in r for p in PARTS[1:] for r in report.get(p, []))
    tests_ok = report.get("tests", {"exit_code": 0})["exit_code"] == 0
    return 0 if tests_ok and not broken else 1


def _targets(report: dict[str, Any]) -> None:
    cuda_256 = [
        r for r in report.get("render", []) if r.get("scene") == "256 superpixel @ 256px" and
        r.get("device") == "cuda" and "error" not in r
    ]  # fmt: skip
    vec = [r for r in report.get("vectorize", []) if "error" not in r]
    vec_cuda = [r["seconds"] for r in vec if r["device"] == "cuda"]
    report["targets"] = {
        "renderer 256 paths @256 fwd+bwd < 5 ms": (
            f"{cuda_256[0]['total_ms']} ms" if cuda_256 else "not measured"
        ),
        "vectorizer default < 1 s per 256 px image": (
            f"mean {np.mean(vec_cuda):.2f} s over {len(vec_cuda)} CUDA calls (256 px images, "
            "every budget)"
            if vec_cuda
            else "not measured"
        ),
    }
    report["finite"] = all(math.isfinite(r["psnr"]) for r in vec)


if __name__ == "__main__":
    sys.exit(main())
