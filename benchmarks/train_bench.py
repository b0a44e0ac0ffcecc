"""Training throughput: steps/s and peak memory of the tiny config on CPU (and of the
paper config on CUDA when a GPU is present).

    python benchmarks/train_bench.py --out benchmarks/results [--steps 30]

Writes ``train_cpu.json`` (and ``train_cuda.json``) plus ``train_bench.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from machine_info import cpu_model

from supersvg.datasets import generate_test
from supersvg.vectorizer.train import TrainOptions, run_training


def _machine() -> dict[str, Any]:
    cpu = cpu_model()
    info: dict[str, Any] = {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "platform": platform.platform(),
    }
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _run(data: Path, config: str, device: str, *, batch: int, steps: int, threads: int) -> dict:
    warmup = 3
    with tempfile.TemporaryDirectory() as tmp:
        if device == "cuda":
            torch.cuda.reset_peak_memory_stats()
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        summary = run_training(
            TrainOptions(
                data=data, output=Path(tmp), config=config, batch_size=batch,
                max_steps=warmup + steps, device=device, threads=threads,
                checkpoint_every=10**9, preview_every=10**9, log_every=10**9,
            )
        )  # fmt: skip
        wall = time.perf_counter() - t0
        with open(Path(tmp) / "metrics.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
    step_s = [float(r["step_seconds"]) for r in rows[warmup:]]
    med = statistics.median(step_s)
    result: dict[str, Any] = {
        "config": config,
        "device": device,
        "batch_size": batch,
        "threads": threads,
        "measured_steps": len(step_s),
        "median_step_seconds": round(med, 4),
        "steps_per_second": round(1.0 / med, 3),
        "samples_per_second": round(batch / med, 2),
        "wall_seconds_incl_data_and_setup": round(wall, 2),
        "final_loss": round(summary["metrics"]["loss"], 5),
    }
    if device == "cuda":
        result["peak_gpu_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
    # ru_maxrss is in KiB on Linux: the process's peak resident memory so far.
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    result["rss_growth_mib"] = round(
        (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) / 1024, 1
    )
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--steps", type=int, default=30, help="measured steps per run")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    machine = _machine()
    with tempfile.TemporaryDirectory() as tmp:
        generate_test(Path(tmp), count=24)
        data = Path(tmp) / "test"
        results = {
            "cpu": _run(
                data, "tiny", "cpu", batch=args.batch_size, steps=args.steps, threads=args.threads
            )
        }
        if torch.cuda.is_available():
            results["cuda"] = _run(
                data, "paper", "cuda", batch=8, steps=args.steps, threads=args.threads
            )
    lines = [
        "# Training throughput",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores (1-minute load average "
        f"{machine['load_average_1m']} at the start: the cores are shared), "
        f"torch {machine['torch']}" + (f", GPU {machine['gpu']}" if "gpu" in machine else "") + ".",
        "",
        "| config | device | batch | steps/s | samples/s | peak memory |",
        "|---|---|---|---|---|---|",
    ]
    for key, r in results.items():
        (args.out / f"train_{key}.json").write_text(
            json.dumps({"machine": machine, "result": r}, indent=2) + "\n"
        )
        mem = (
            f"{r['peak_gpu_memory_mib']} MiB GPU"
            if "peak_gpu_memory_mib" in r
            else f"{r['peak_rss_mib']} MiB RSS"
        )
        lines.append(
            f"| {r['config']} | {r['device']} | {r['batch_size']} | {r['steps_per_second']} | "
            f"{r['samples_per_second']} | {mem} |"
        )
    if "cuda" not in results:
        lines += ["", "No CUDA device here: the paper config's GPU numbers were not measured."]
    lines += [
        "",
        "A step is one optimizer step: model forward, one pydiffvg render of the whole batch "
        "(colour and coverage tiles), losses, backward, AdamW. Median over the measured steps "
        "after 3 warm-up steps; data loading (SLIC on first touch) is excluded from steps/s.",
    ]
    (args.out / "train_bench.md").write_text("\n".join(lines) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
