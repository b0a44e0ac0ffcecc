"""Fast mode's seconds (``--iterations 0``) and the part spent merging superpixels, on
scikit-image's pictures at budgets 64 / 256 / 1024, beside a baseline revision's
vectorizer in the same run (alternating rounds, each call in a fresh process). The SVG's
digest says whether the output changed.

    python benchmarks/segment_bench.py --out benchmarks/results --baseline REV [--rounds 3]

Writes ``segment.{json,md}``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from diffvg_bench import _git, extract_baseline
from machine_info import cpu_model

IMAGES = ("logo", "astronaut", "coffee", "chelsea")
BUDGETS = (64, 256, 1024)


def run_case(image: str, budget: int) -> dict[str, Any]:
    """One fast-mode call in this process."""
    from skimage import data

    from supersvg.vectorizer import VectorizeConfig, Vectorizer, superpixels

    merging = [0.0]
    merge = superpixels.merge_regions

    def timed(*args: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        out = merge(*args, **kw)
        merging[0] += time.perf_counter() - t0
        return out

    superpixels.merge_regions = timed  # segment() looks it up in the module
    pixels = getattr(data, image)()
    t0 = time.perf_counter()
    res = Vectorizer(VectorizeConfig(max_paths=budget, iterations=0)).vectorize(pixels)
    return {
        "seconds": time.perf_counter() - t0,
        "merge_seconds": merging[0],
        "outlines": res.num_paths,
        "svg_sha256": hashlib.sha256(res.svg.encode()).hexdigest()[:16],
    }


def _call(image: str, budget: int, pythonpath: list[Path]) -> dict[str, Any]:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    if pythonpath:
        env["PYTHONPATH"] = os.pathsep.join([*map(str, pythonpath), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [sys.executable, __file__, "--case", json.dumps([image, budget])],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    return dict(json.loads(proc.stdout.strip().splitlines()[-1]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    ap.add_argument("--baseline", default="HEAD~1", help="revision to compare with")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--case", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.case:
        image, budget = json.loads(args.case)
        print(json.dumps(run_case(image, budget)))
        return
    root = extract_baseline(args.baseline)
    engines: dict[str, list[Path]] = {
        "current": [],
        "baseline": [root / "services/vectorizer/src", root / "diffvg/src"],
    }
    load_before = os.getloadavg()[0]
    rows = []
    for image in IMAGES:
        for budget in BUDGETS:
            runs: dict[str, list[dict[str, Any]]] = {e: [] for e in engines}
            for round_ in range(args.rounds):
                order = list(engines) if round_ % 2 == 0 else list(engines)[::-1]
                for engine in order:
                    runs[engine].append(_call(image, budget, engines[engine]))
            row: dict[str, Any] = {"image": image, "budget": budget}
            for engine, rs in runs.items():
                row[engine] = {
                    "seconds": statistics.median(x["seconds"] for x in rs),
                    "merge_seconds": statistics.median(x["merge_seconds"] for x in rs),
                    "outlines": rs[0]["outlines"],
                    "svg_sha256": sorted({x["svg_sha256"] for x in rs}),
                }
            print(json.dumps(row), flush=True)
            rows.append(row)
    payload = {
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count()},
        "baseline_revision": _git("rev-parse", args.baseline),
        "rounds": args.rounds,
        "loadavg_before": load_before,
        "loadavg_after": os.getloadavg()[0],
        "rows": rows,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "segment.json").write_text(json.dumps(payload, indent=2) + "\n")
    lines = [
        "# Fast mode: seconds and superpixel merging",
        "",
        f"Machine: {payload['machine']['cpu']}, {payload['machine']['cores']} cores; load "
        f"average {load_before:.2f} before, {payload['loadavg_after']:.2f} after. Baseline "
        f"`{payload['baseline_revision'][:12]}`, {args.rounds} alternating rounds of fresh "
        "processes, medians. `supersvg vectorize --iterations 0` on scikit-image's pictures "
        "(written by `benchmarks/segment_bench.py`).",
        "",
        "| image | budget | outlines | s now | s before | merging now | merging before "
        "| same SVG |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        now, before = r["current"], r["baseline"]
        lines.append(
            f"| {r['image']} | {r['budget']} | {now['outlines']} | {now['seconds']:.2f} | "
            f"{before['seconds']:.2f} | {now['merge_seconds']:.2f} | "
            f"{before['merge_seconds']:.2f} | "
            f"{'yes' if now['svg_sha256'] == before['svg_sha256'] else 'no'} |"
        )
    (args.out / "segment.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
