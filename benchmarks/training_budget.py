"""Training time and cost budgets for the test / icons / quickdraw / full runs.

    python benchmarks/training_budget.py --out benchmarks/results

Reads the measured throughput of ``train_bench.py`` (``train_cpu.json``; ``train_cuda.json``
when a GPU run exists) and combines it with dataset sizes, epochs and hourly prices.
Writes ``training_budget.json`` and ``training_budget.md``; every input is labelled
``measured`` or ``assumed`` there.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from supersvg.cloud.record import ON_DEMAND_PRICES, PRICES_AS_OF
from supersvg.datasets.quickdraw import QUICKDRAW_CATEGORIES, QUICKDRAW_LIMIT
from supersvg.datasets.synthetic import TEST_COUNT
from supersvg.vectorizer.models.build import MODEL_CONFIGS

#: Tabler Icons 3.x: roughly 5,000 outline and 1,000 filled icons (assumed; the download
#: prints the real count).
ICONS_ASSUMED = 6000
#: The paper config on one 24 GB GPU (RTX 4090 / A10G class), samples per second: an
#: assumption with a wide range until `make bench-train` runs on such a GPU.
GPU_SAMPLES_PER_S_ASSUMED = {"low": 25.0, "mid": 50.0, "high": 100.0}
#: Epochs per run (the seed's `train ./input 100 32 0.001`); the test run is the quick test.
EPOCHS = {"test": 1, "icons": 100, "quickdraw": 100, "full": 100}
#: Indicative prices, USD per hour, quoted in the project description (2026-02); re-check.
#: The AWS on-demand row comes from supersvg.cloud (the list `supersvg cloud` uses). All
#: rows use the same assumed 24 GB-GPU rate (an A100 would be faster).
PLATFORMS: list[dict[str, Any]] = [
    {"platform": "RunPod", "gpu": "RTX 4090 24 GB", "low": 0.44, "high": 0.69,
     "source": "project description, 2026-02"},
    {"platform": "Vast.ai", "gpu": "RTX 4090 24 GB", "low": 0.30, "high": 0.90,
     "source": "project description, 2026-02"},
    {"platform": "AWS EC2 spot", "gpu": "A10G 24 GB (g5.xlarge)", "low": 0.36, "high": 0.50,
     "source": "project description, 2026-02"},
    {"platform": "AWS EC2 on-demand", "gpu": "A10G 24 GB (g5.xlarge)",
     "low": ON_DEMAND_PRICES["g5.xlarge"], "high": ON_DEMAND_PRICES["g5.xlarge"],
     "source": PRICES_AS_OF},
    {"platform": "Lambda", "gpu": "A6000 48 GB / A100", "low": 0.80, "high": 1.99,
     "source": "project description, 2026-02"},
]  # fmt: skip


def _images() -> dict[str, tuple[int, str]]:
    quickdraw = len(QUICKDRAW_CATEGORIES) * QUICKDRAW_LIMIT
    return {
        "test": (TEST_COUNT, "known (generator count)"),
        "icons": (ICONS_ASSUMED, "assumed"),
        "quickdraw": (quickdraw, "known (25 categories x --limit 500)"),
        "full": (TEST_COUNT + ICONS_ASSUMED + quickdraw, "sum (icons assumed)"),
    }


def _throughput(results: Path) -> dict[str, Any]:
    cpu = json.loads((results / "train_cpu.json").read_text())
    out: dict[str, Any] = {
        "cpu": {
            "config": cpu["result"]["config"],
            "samples_per_s": cpu["result"]["samples_per_second"],
            "kind": "measured",
            "machine": cpu["machine"],
        }
    }
    cuda_file = results / "train_cuda.json"
    if cuda_file.exists():
        cuda = json.loads(cuda_file.read_text())
        rate = cuda["result"]["samples_per_second"]
        out["gpu"] = {
            "config": cuda["result"]["config"], "kind": "measured", "machine": cuda["machine"],
            "low": rate, "mid": rate, "high": rate,
        }  # fmt: skip
    else:
        out["gpu"] = {"config": "paper", "kind": "assumed", **GPU_SAMPLES_PER_S_ASSUMED}
    return out


def budgets(results: Path) -> dict[str, Any]:
    rate = _throughput(results)
    rows = []
    for run, (images, source) in _images().items():
        per_image = MODEL_CONFIGS[rate["gpu"]["config"]].per_image
        samples = images * per_image * EPOCHS[run]
        cpu_h = samples / rate["cpu"]["samples_per_s"] / 3600
        gpu_h = {k: samples / rate["gpu"][k] / 3600 for k in ("low", "mid", "high")}
        costs = {
            f"{p['platform']} {p['gpu']}": (
                round(gpu_h["high"] * p["low"], 2),
                round(gpu_h["low"] * p["high"], 2),
            )
            for p in PLATFORMS
        }
        rows.append({
            "run": run, "images": images, "images_source": source, "epochs": EPOCHS[run],
            "samples": samples, "cpu_tiny_hours": round(cpu_h, 3),
            "gpu_paper_hours": {k: round(v, 3) for k, v in gpu_h.items()},
            "cost_usd_range": costs,
        })  # fmt: skip
    return {"throughput": rate, "platforms": PLATFORMS, "runs": rows}


def _markdown(data: dict[str, Any]) -> str:
    cpu, gpu = data["throughput"]["cpu"], data["throughput"]["gpu"]
    m = cpu["machine"]
    lines = [
        "# Training budgets",
        "",
        f"- CPU rate, **measured** (`train_cpu.json`): {cpu['samples_per_s']} samples/s, "
        f"{cpu['config']} config, {m['cpu']}, {m['cores']} cores, 1-minute load average "
        f"{m['load_average_1m']} when measured (shared cores: a quiet machine is faster).",
        f"- GPU rate, **{gpu['kind']}**: {gpu['config']} config, "
        f"{gpu['low']:g} / {gpu['mid']:g} / {gpu['high']:g} samples/s (low / mid / high)"
        + (
            " on one 24 GB GPU; replace it by running `make bench-train` on the GPU host."
            if gpu["kind"] == "assumed"
            else "."
        ),
        "- Samples = images x 4 superpixel crops per image x epochs. Steps/s exclude data "
        "loading (SLIC on first touch), so real runs take somewhat longer.",
        "",
        "| run | images | epochs | samples | tiny on this CPU (h) | paper on one GPU (h, "
        "high / mid / low rate) |",
        "|---|---|---|---|---|---|",
    ]
    for r in data["runs"]:
        g = r["gpu_paper_hours"]
        lines.append(
            f"| {r['run']} | {r['images']:,} ({r['images_source']}) | {r['epochs']} | "
            f"{r['samples']:,} | {r['cpu_tiny_hours']:g} | {g['high']:g} / {g['mid']:g} / "
            f"{g['low']:g} |"
        )
    lines += ["", "Cost of the paper-config GPU run, USD (fast GPU at the low price .. slow "
              "GPU at the high price; indicative prices, re-check):", ""]  # fmt: skip
    names = list(data["runs"][0]["cost_usd_range"])
    lines.append("| run | " + " | ".join(names) + " |")
    lines.append("|---|" + "---|" * len(names))
    for r in data["runs"]:
        cells = [f"{lo:g}-{hi:g}" for lo, hi in r["cost_usd_range"].values()]
        lines.append(f"| {r['run']} | " + " | ".join(cells) + " |")
    lines += ["", "Hourly prices used:", "", "| platform | GPU | USD/h | source |",
              "|---|---|---|---|"]  # fmt: skip
    for p in data["platforms"]:
        price = f"{p['low']:g}" if p["low"] == p["high"] else f"{p['low']:g}-{p['high']:g}"
        lines.append(f"| {p['platform']} | {p['gpu']} | {price} | {p['source']} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args()
    data = budgets(args.out)
    (args.out / "training_budget.json").write_text(json.dumps(data, indent=2) + "\n")
    (args.out / "training_budget.md").write_text(_markdown(data))
    print(_markdown(data))


if __name__ == "__main__":
    main()
