"""Run DiffVG's own example programs (``apps/single_*.py``) unchanged against pydiffvg.

Given a checkout of the DiffVG repository (not part of this repo), every non-TensorFlow
``apps/single_*.py`` is copied into a scratch folder and run there as is with this
interpreter (so ``import pydiffvg`` is ours). Each program prints ``loss: <value>`` once
per optimisation step; the first and last are recorded with their ratio and the wall
time. The programs end by calling ``ffmpeg`` to make a video, which is outside pydiffvg:
a program that reaches that call (``ffmpeg`` missing) or finishes counts as "ran to the
end". ``single_curve_sdf_trans.py`` plots with matplotlib and has no loss.

    python benchmarks/diffvg_upstream_apps.py /path/to/diffvg \\
        [--out benchmarks/results] [--only single_rect ...] [--timeout 900]

writes ``diffvg_upstream_apps.{json,md}`` with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

_LOSS = re.compile(r"^loss:\s*(\S+)", re.MULTILINE)
_FFMPEG_MISSING = re.compile(r"No such file or directory: 'ffmpeg'")
TARGET_RATIO = 10.0


def find_apps(checkout: Path) -> list[Path]:
    """The non-TensorFlow ``apps/single_*.py`` programs of a DiffVG checkout."""
    apps = sorted(p for p in (checkout / "apps").glob("single_*.py") if not p.stem.endswith("_tf"))
    if not apps:
        raise SystemExit(f"no apps/single_*.py under {checkout}")
    return apps


def run_app(app: Path, scratch: Path, timeout: float) -> dict[str, Any]:
    """Run one program in ``scratch``; parse its losses and how it ended."""
    shutil.copy(app, scratch / app.name)
    env = dict(os.environ, MPLBACKEND="Agg")
    start = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, app.name],
            cwd=scratch,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode() if isinstance(exc.stdout, bytes) else (exc.stdout or "")
        err, code = f"timed out after {timeout:.0f} s", None
    seconds = time.perf_counter() - start
    losses = [float(v) for v in _LOSS.findall(out)]
    ffmpeg_missing = bool(_FFMPEG_MISSING.search(err))
    ran_to_end = code == 0 or ffmpeg_missing
    first = losses[0] if losses else None
    last = losses[-1] if losses else None
    ratio = first / last if first is not None and last else None
    error = ""
    if not ran_to_end:
        lines = [ln for ln in err.strip().splitlines() if ln.strip()]
        error = lines[-1] if lines else f"exit code {code}"
    return {
        "program": app.name,
        "ran_to_end": ran_to_end,
        "ended_at_ffmpeg": ffmpeg_missing,
        "steps": len(losses),
        "first_loss": first,
        "last_loss": last,
        "ratio": ratio,
        "meets_target": ratio is not None and ratio >= TARGET_RATIO,
        "seconds": round(seconds, 1),
        "error": error,
    }


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def write_results(out_dir: Path, rows: list[dict[str, Any]], meta: dict[str, Any]) -> None:
    """Write ``diffvg_upstream_apps.json`` and ``.md``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "diffvg_upstream_apps.json").write_text(
        json.dumps({"meta": meta, "programs": rows}, indent=2) + "\n"
    )
    lines = [
        "# DiffVG's example programs run unchanged against pydiffvg",
        "",
        f"DiffVG commit {meta['diffvg_commit']}; {meta['machine']}; load average "
        f"{meta['loadavg_start']} at start, {meta['loadavg_end']} at end. "
        "'ran to end' means the program finished or reached its closing ffmpeg call "
        "(ffmpeg is not installed here). Target: loss falls >= 10x.",
        "",
        "| program | ran to end | steps | first loss | last loss | first / last | seconds | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        note = r["error"] or ("" if r["meets_target"] or r["ratio"] is None else "below 10x")
        if r["steps"] == 0 and r["ran_to_end"]:
            note = "no loss printed (no optimisation in the program)"
        lines.append(
            f"| {r['program']} | {'yes' if r['ran_to_end'] else 'no'} | {r['steps']} | "
            f"{_fmt(r['first_loss'])} | {_fmt(r['last_loss'])} | {_fmt(r['ratio'])} | "
            f"{r['seconds']} | {note} |"
        )
    (out_dir / "diffvg_upstream_apps.md").write_text("\n".join(lines) + "\n")


def _commit(checkout: Path) -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkout", type=Path, help="a DiffVG checkout (has apps/)")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    parser.add_argument(
        "--only", nargs="*", help="program stems to run, in this order (default: all)"
    )
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per program")
    parser.add_argument("--commit", help="DiffVG commit to record (default: the checkout's)")
    args = parser.parse_args()
    apps = find_apps(args.checkout)
    if args.only:  # in the order given, so a long run can put what matters first
        by_stem = {a.stem: a for a in apps}
        apps = [by_stem[s] for s in args.only if s in by_stem]
    meta: dict[str, Any] = {
        "diffvg_commit": args.commit or _commit(args.checkout),
        "machine": f"{platform.machine()} x{os.cpu_count()} CPUs, {platform.platform()}",
        "python": platform.python_version(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="diffvg-apps-") as tmp:
        for app in apps:
            row = run_app(app, Path(tmp), args.timeout)
            print(json.dumps(row), flush=True)
            rows.append(row)
            # Written after every program, so a long run leaves its results so far.
            meta["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
            meta["complete"] = len(rows) == len(apps)
            write_results(args.out, rows, meta)


if __name__ == "__main__":
    main()
