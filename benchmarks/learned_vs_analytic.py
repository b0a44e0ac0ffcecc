"""Learned coarse init vs analytic init, at equal wall-clock time.

    python benchmarks/learned_vs_analytic.py --checkpoint RUN/last.pt --out benchmarks/results

Vectorizes held-out synthetic images (seeds the ``test`` dataset never uses) with both
coarse stages, each followed by 0..N iterations of the pipeline's pydiffvg refinement,
and records wall-clock seconds and PSNR for every (method, iterations) point. Writes
``learned_vs_analytic.json``; the Markdown write-up quotes it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from supersvg.datasets.synthetic import synthetic_image
from supersvg.vectorizer.config import VectorizeConfig
from supersvg.vectorizer.pipeline import Vectorizer

#: Far above the seeds of the ``test`` dataset (0..count-1 for seed 0).
HELD_OUT_SEED = 10_000


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--max-paths", type=int, default=64)
    ap.add_argument("--iterations", default="0,5,10", help="comma-separated refinement steps")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument(
        "--learned-iterations", default=None, help="refinement steps for the learned init"
    )
    ap.add_argument("--json", default="learned_vs_analytic.json", help="output file name")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    iters = [int(x) for x in args.iterations.split(",")]
    # The learned init's paths render much faster, so it affords more steps in equal time.
    learned_iters = [int(x) for x in (args.learned_iterations or args.iterations).split(",")]
    images = []
    for i in range(args.images):
        buf = io.BytesIO()
        synthetic_image(HELD_OUT_SEED + i).save(buf, format="PNG")
        images.append(buf.getvalue())
    # Load the checkpoint once outside the timed runs (a server keeps models loaded).
    Vectorizer(VectorizeConfig(iterations=0, checkpoint=args.checkpoint)).vectorize(images[0])
    points: list[dict[str, Any]] = []
    runs = (("analytic", None, iters), ("learned", args.checkpoint, learned_iters))
    for method, ckpt, steps in runs:
        for it in steps:
            psnrs, secs, paths = [], [], []
            for data in images:
                cfg = VectorizeConfig(max_paths=args.max_paths, iterations=it, checkpoint=ckpt)
                t0 = time.perf_counter()
                result = Vectorizer(cfg).vectorize(data)
                secs.append(time.perf_counter() - t0)
                psnrs.append(result.metrics["psnr"])
                paths.append(result.num_paths)
            points.append({
                "method": method, "iterations": it,
                "mean_seconds": round(statistics.mean(secs), 3),
                "mean_psnr": round(statistics.mean(psnrs), 3),
                "psnr": psnrs, "seconds": [round(s, 3) for s in secs],
                "mean_paths": statistics.mean(paths),
            })  # fmt: skip
            print(json.dumps(points[-1]))
    args.out.mkdir(parents=True, exist_ok=True)
    body = {
        "checkpoint": str(args.checkpoint),
        "images": f"{args.images} held-out synthetic 256x256 images (seeds from {HELD_OUT_SEED})",
        "max_paths": args.max_paths,
        "threads": args.threads,
        "cores": os.cpu_count(),
        "load_average_1m_at_end": round(os.getloadavg()[0], 2),
        "points": points,
    }
    (args.out / args.json).write_text(json.dumps(body, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
