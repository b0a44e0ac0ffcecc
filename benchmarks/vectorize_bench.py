"""Vectorizer benchmark of what users see: our CLI against VTracer, potrace and our past.

For every image of the sets (``vecbench.sets``: photo, emoji, icons, shapes) and every
budget (64, 256, 1024 outlines; emoji and icons also twice the source's outlines), runs
``supersvg vectorize`` in the default and fast modes, and palette mode on photos beside the
previous code (``--baseline REV``, extracted with ``git archive``). VTracer is swept over
its settings on every image (cached); each of our results is matched with VTracer's best
PSNR at equal or fewer outlines. potrace runs on the icons. Outlines, segments and bytes
are counted from the written files (``vecbench.svgstats``); the targets of the
vector-quality work are checked per image (``vecbench.targets``).

Writes ``OUT/vectorize.{json,md}`` and ``OUT/vectorize_<set>.png`` (``_quick`` inserted
with ``--quick``). Scratch space and caches: ``benchmarks/.work/`` (git-ignored).

Usage: python benchmarks/vectorize_bench.py [--quick] [--sets photo,icons] [--budgets 256]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path
from typing import Any

from machine_info import cpu_model
from PIL import Image
from vecbench.measure import Measurer
from vecbench.ours import Cli, extract_revision
from vecbench.peers import VTRACER_SWEEP, PotraceMissing, potrace_svg, potrace_version
from vecbench.plan import PALETTE_SHAPES, SOURCE_SETS, Job, jobs_for
from vecbench.plot import rd_plot
from vecbench.report import render_md, summarize
from vecbench.sets import SETS, SIZE, Item, build_set
from vecbench.svgstats import svg_stats
from vecbench.sweep import complete, load_points, match, sweep_vtracer
from vecbench.targets import check_targets, contract_misses

ROOT = Path(__file__).resolve().parent
REPO = ROOT.parent
WORK = ROOT / ".work"
# Sized so that a full run stays well under an hour on 2 cores at the per-call targets.
DEFAULT_LIMITS = {"photo": 14, "emoji": 16, "icons": 16, "shapes": 12}
QUICK_LIMIT = 2
STARTUP_SIZE = 16
Row = dict[str, Any]


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _machine() -> dict[str, Any]:
    cpu = cpu_model()
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def _commit() -> str:
    def git(*a: str) -> str:
        return subprocess.run(
            ["git", "-C", str(REPO), *a], capture_output=True, text=True, check=False
        ).stdout.strip()

    # Results files are what a run rewrites: only changed code marks the commit as modified.
    changed = git(
        "status", "--porcelain", "--untracked-files=no", "--", ".", ":!benchmarks/results"
    )
    return git("rev-parse", "--short", "HEAD") + (" (uncommitted changes)" if changed else "")


def _call(cli: Cli, item: Item, png: Path, job: Job, measurer: Measurer) -> Row:
    out_dir = WORK / "runs" / job.cli / item.set / item.name / f"{job.label}-{job.mode}"
    call = cli.vectorize(png, out_dir, job.args())
    row: Row = {
        "set": item.set,
        "image": item.name,
        "label": job.label,
        "mode": job.mode,
        "cli": job.cli,
        "max_paths": job.max_paths,
        "max_colors": job.max_colors,
        "seconds": call.seconds,
        "error": call.error,
        "series": f"{job.cli} {job.mode}",
    }
    if call.svg is not None:
        try:
            row.update(measurer.measure(call.svg, item))
        except (ValueError, ET.ParseError) as exc:  # an SVG we cannot read is a failed call
            row["error"] = f"unreadable SVG: {exc}"
        row["num_paths"] = (call.metrics or {}).get("num_paths")
    return row


def _match(row: Row, points: list[Row], item: Item, measurer: Measurer) -> None:
    """Attach VTracer's matched point to one of our rows, and the differences."""
    pt = match(points, row["outlines"])
    if pt is None:
        row["vtracer"] = None
        row["d_psnr"] = row["d_psnr4x"] = None
        return
    pt = complete(WORK, measurer, item, pt)
    row["vtracer"] = {k: v for k, v in pt.items() if k != "svg"}
    row["d_psnr"] = row["psnr"] - pt["psnr"]
    row["d_psnr4x"] = (
        None
        if row.get("psnr4x") is None or pt.get("psnr4x") is None
        else row["psnr4x"] - pt["psnr4x"]
    )


def _references(item: Item, measurer: Measurer, potrace: bool) -> list[Row]:
    """The source SVG's own figures, and potrace's result on icons."""
    out: list[Row] = []
    if item.source_svg is not None:
        st = svg_stats(item.source_svg)
        out.append(
            {
                "set": item.set,
                "image": item.name,
                "method": "source",
                "outlines": st.outlines,
                "curves": st.curves,
                "lines": st.lines,
                "bytes": st.raw_bytes,
                "gzip": st.gzip_bytes,
            }
        )
    if potrace:
        svg = potrace_svg(item.image)
        out.append(
            {
                "set": item.set,
                "image": item.name,
                "method": "potrace",
                "series": "potrace",
                **measurer.measure(svg, item),
            }
        )
    return out


def _reference_summary(refs: list[Row]) -> list[Row]:
    keys = ("outlines", "curves", "lines", "bytes", "gzip", "psnr", "ssim", "psnr4x")
    groups: dict[tuple[str, str], list[Row]] = {}
    for r in refs:
        groups.setdefault((r["set"], r["method"]), []).append(r)
    out = []
    for (set_name, method), grp in groups.items():
        s: Row = {"set": set_name, "method": method, "n": len(grp)}
        for k in keys:
            vals = [r[k] for r in grp if r.get(k) is not None]
            s[k] = sum(vals) / len(vals) if vals else None
        out.append(s)
    return out


def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run the benchmark as ``args`` say; returns the results document."""
    load_start, t_start, commit = os.getloadavg(), time.time(), _commit()  # what runs
    sets = [s for s in args.sets.split(",") if s]
    budgets = [int(b) for b in args.budgets.split(",") if b]
    palette_ks = [int(k) for k in args.palette_k.split(",") if k]
    if args.quick:
        budgets, palette_ks = budgets[:1] if len(budgets) == 1 else [256], palette_ks[:1]
    try:
        potrace_ver: str | None = potrace_version()
    except PotraceMissing as exc:
        potrace_ver = None
        _log(f"WARNING: {exc}; the icons are benchmarked without potrace")
    ours = Cli("ours")
    baseline = extract_revision(REPO, args.baseline, WORK) if args.baseline else None
    for cli in (ours, *([baseline] if baseline else [])):
        _log(f"{cli.label}: runs {cli.check()}")
    startup = _startup_seconds(ours)
    _log(f"ours: a call on a {STARTUP_SIZE} px image takes {startup:.2f} s (start-up)")
    measurer = Measurer(WORK)
    rows: list[Row] = []
    refs: list[Row] = []
    vt_points: dict[str, list[Row]] = {}
    plots: dict[str, str] = {}
    suffix = "_quick" if args.quick else ""
    for set_name in sets:
        limit = QUICK_LIMIT if args.quick else args.limit or DEFAULT_LIMITS[set_name]
        items = build_set(set_name, limit=limit, seed=args.seed, work=WORK)
        t0 = time.time()
        traced = sweep_vtracer(WORK, items)
        _log(f"{set_name}: VTracer sweep, {traced} new points in {time.time() - t0:.0f} s")
        set_rows: list[Row] = []
        vt_points[set_name] = []
        for item in items:
            png = WORK / "inputs" / set_name / f"{item.name}.png"
            png.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(item.image).save(png)
            refs += _references(item, measurer, potrace_ver is not None and set_name == "icons")
            src = svg_stats(item.source_svg) if item.source_svg else None
            points = load_points(WORK, item)
            vt_points[set_name] += [{k: v for k, v in p.items() if k != "svg"} for p in points]
            jobs = jobs_for(
                set_name,
                budgets,
                src.outlines if src else None,
                palette_ks=palette_ks if set_name in args.palette_sets else [],
                baseline=baseline is not None,
            )
            for job in jobs:
                cli = baseline if job.cli == "baseline" and baseline else ours
                row = _call(cli, item, png, job, measurer)
                if src is not None:
                    row.update(source_outlines=src.outlines, source_bytes=src.raw_bytes)
                if job.cli == "ours" and not row["error"]:
                    _match(row, points, item, measurer)
                set_rows.append(row)
                _log(_progress(row))
        _attach_baseline(set_rows)
        rows += set_rows
        plot = args.out / f"vectorize{suffix}_{set_name}.png"
        rd_plot(
            set_name, set_rows, vt_points[set_name], [r for r in refs if r["set"] == set_name], plot
        )
        plots[set_name] = plot.name
    return {
        "commit": commit,
        "machine": _machine(),
        "loadavg": {"start": load_start, "end": os.getloadavg()},
        "wall_seconds": time.time() - t_start,
        "startup_seconds": startup,
        "config": {
            "quick": args.quick,
            "size": SIZE,
            "startup_size": STARTUP_SIZE,
            "sets": sets,
            "budgets": budgets,
            "palette_k": palette_ks,
            "palette_sets": args.palette_sets,
            "palette_shapes": PALETTE_SHAPES,
            "seed": args.seed,
            "baseline": baseline.label if baseline else None,
            "vtracer_version": version("vtracer"),
            "vtracer_points": len(VTRACER_SWEEP),
            "vtracer_sweep": VTRACER_SWEEP,
            "potrace_version": potrace_ver or "not installed",
            "source_sets": list(SOURCE_SETS),
        },
        "targets": check_targets(rows),
        "contract": contract_misses(rows),
        "summary": summarize(rows),
        "reference_summary": _reference_summary(refs),
        "plots": plots,
        "images": rows,
        "references": refs,
    }


def _startup_seconds(cli: Cli, repeats: int = 3) -> float:
    """Median wall time of our CLI on a tiny image in fast mode: start-up, almost no work."""
    png = WORK / "inputs" / "startup.png"
    png.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (STARTUP_SIZE, STARTUP_SIZE), (200, 40, 40)).save(png)
    times = []
    for _ in range(repeats):
        call = cli.vectorize(
            png, WORK / "runs" / "startup", ["--max-paths", "4", "--iterations", "0"]
        )
        if call.error:
            raise RuntimeError(
                f"{cli.label} fails on a plain {STARTUP_SIZE} px image: {call.error}"
            )
        times.append(call.seconds)
    return sorted(times)[len(times) // 2]


def _attach_baseline(rows: list[Row]) -> None:
    """Give each of our palette rows the previous code's PSNR and gzip at the same K."""
    prev = {(r["image"], r["label"]): r for r in rows if r["cli"] == "baseline" and not r["error"]}
    for r in rows:
        b = prev.get((r["image"], r["label"])) if r["cli"] == "ours" else None
        if b is not None and not r["error"]:
            r["baseline_psnr"], r["baseline_gzip"] = b["psnr"], b["gzip"]


def _progress(r: Row) -> str:
    head = f"{r['set']:6s} {r['image'][:24]:24s} {r['label']:>6s} {r['cli']:8s} {r['mode']:7s}"
    if r["error"]:
        return f"{head} FAILED {r['error']}"
    vt = r.get("vtracer")
    tail = f" vt={vt['psnr']:6.2f}@{vt['outlines']}" if vt else ""
    p4 = f" psnr4x={r['psnr4x']:6.2f}" if r.get("psnr4x") is not None else ""
    return (
        f"{head} outlines={r['outlines']:5d}/{r['max_paths']:<5d} psnr={r['psnr']:6.2f}"
        f"{p4} gzip={r['gzip']:7d} s={r['seconds']:.2f}{tail}"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "results")
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"{QUICK_LIMIT} images per set, budget 256 (or the one --budgets "
        "names), the first palette K: for development",
    )
    ap.add_argument("--sets", default=",".join(SETS))
    ap.add_argument("--budgets", default="64,256,1024", help="outline budgets")
    ap.add_argument(
        "--limit", type=int, default=0, help=f"images per set (default {DEFAULT_LIMITS})"
    )
    ap.add_argument("--palette-k", default="16,64", help="palette mode colour limits")
    ap.add_argument("--palette-sets", default="photo", help="sets on which palette mode runs")
    ap.add_argument(
        "--baseline",
        default="d4a2885",
        help="previous revision for the palette comparison ('' for none)",
    )
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--render",
        type=Path,
        default=None,
        metavar="JSON",
        help="run nothing: write the Markdown of a results JSON beside it",
    )
    args = ap.parse_args(argv)
    if args.render is not None:
        md = render_md(json.loads(args.render.read_text()))
        args.render.with_suffix(".md").write_text(md)
        print(md)
        return 0
    args.palette_sets = [s for s in args.palette_sets.split(",") if s]
    args.out.mkdir(parents=True, exist_ok=True)
    doc = run(args)
    suffix = "_quick" if args.quick else ""
    (args.out / f"vectorize{suffix}.json").write_text(json.dumps(doc, indent=1) + "\n")
    md = render_md(doc)
    (args.out / f"vectorize{suffix}.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
