"""The targets of the vector-quality work, checked per image on a benchmark run's rows.

Each target names the rows it applies to (set, budget labels, mode) and a per-row test;
it passes when every such row passes, and names the images that miss. A row whose call
failed misses every target it applies to. The thresholds live here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["TARGETS", "Target", "check_targets", "contract_misses"]

Row = dict[str, Any]
PHOTO_BUDGETS = ("64", "256", "1024")
#: Palette mode keeps the previous colour layers' quality per gzip byte: PSNR within this
#: many dB of the previous code's at the same K, gzip bytes within this factor of its.
PALETTE_PSNR_SLACK_DB = 0.5
PALETTE_GZIP_FACTOR = 1.1


@dataclass(frozen=True)
class Target:
    """A per-row test over the rows of ``set`` with a label in ``labels`` and ``mode``."""

    name: str
    set: str
    labels: tuple[str, ...]
    mode: str
    test: Callable[[Row], bool]
    shown: Callable[[Row], str]  # the figure a miss is reported with


def _vs_vtracer(margin: float) -> Callable[[Row], bool]:
    return lambda r: r.get("d_psnr") is not None and r["d_psnr"] >= margin


def _d(r: Row) -> str:
    return "no VTracer point" if r.get("d_psnr") is None else f"{r['d_psnr']:+.2f} dB"


def _secs(r: Row) -> str:
    return f"{r['seconds']:.2f} s"


def _flat_art(set_name: str) -> list[Target]:
    labels = ("2xsrc",)
    return [
        Target(
            f"{set_name}: PSNR at 4x >= 30 dB (<= 2x source outlines)",
            set_name,
            labels,
            "default",
            lambda r: r.get("psnr4x") is not None and r["psnr4x"] >= 30.0,
            lambda r: "n/a" if r.get("psnr4x") is None else f"{r['psnr4x']:.2f} dB",
        ),
        Target(
            f"{set_name}: SVG <= 3x the source's bytes",
            set_name,
            labels,
            "default",
            lambda r: r["bytes"] <= 3 * r["source_bytes"],
            lambda r: f"{r['bytes'] / r['source_bytes']:.1f}x",
        ),
        Target(
            f"{set_name}: <= 5 s per call",
            set_name,
            labels,
            "default",
            lambda r: r["seconds"] <= 5.0,
            _secs,
        ),
    ]


TARGETS: tuple[Target, ...] = (
    Target(
        "photo default: PSNR >= VTracer + 3 dB at <= outlines",
        "photo",
        PHOTO_BUDGETS,
        "default",
        _vs_vtracer(3.0),
        _d,
    ),
    Target(
        "photo default: <= 10 s per call",
        "photo",
        PHOTO_BUDGETS,
        "default",
        lambda r: r["seconds"] <= 10.0,
        _secs,
    ),
    Target(
        "photo fast: PSNR >= VTracer at <= outlines",
        "photo",
        PHOTO_BUDGETS,
        "fast",
        _vs_vtracer(0.0),
        _d,
    ),
    Target(
        "photo fast: < 1 s per call",
        "photo",
        PHOTO_BUDGETS,
        "fast",
        lambda r: r["seconds"] < 1.0,
        _secs,
    ),
    *_flat_art("emoji"),
    *_flat_art("icons"),
    Target(
        f"photo palette: PSNR >= previous colour layers - {PALETTE_PSNR_SLACK_DB} dB "
        f"and gzip <= {PALETTE_GZIP_FACTOR}x theirs (same K)",
        "photo",
        ("K16", "K64"),
        "palette",
        lambda r: (
            r.get("baseline_psnr") is not None
            and r["psnr"] >= r["baseline_psnr"] - PALETTE_PSNR_SLACK_DB
            and r["gzip"] <= PALETTE_GZIP_FACTOR * r["baseline_gzip"]
        ),
        lambda r: (
            "no baseline"
            if r.get("baseline_psnr") is None
            else f"{r['psnr'] - r['baseline_psnr']:+.2f} dB, "
            f"gzip x{r['gzip'] / r['baseline_gzip']:.2f}"
        ),
    ),
)


def check_targets(rows: list[Row]) -> list[dict[str, Any]]:
    """Each target's verdict on ``rows`` (our CLI's rows): pass/miss/no data, and misses."""
    out = []
    for t in TARGETS:
        subset = [
            r
            for r in rows
            if r["cli"] == "ours"
            and r["set"] == t.set
            and r["mode"] == t.mode
            and r["label"] in t.labels
        ]
        misses = [
            {"image": r["image"], "label": r["label"], "value": r["error"] or t.shown(r)}
            for r in subset
            if r["error"] or not t.test(r)
        ]
        status = "no data" if not subset else ("pass" if not misses else "miss")
        out.append({"target": t.name, "status": status, "checked": len(subset), "misses": misses})
    return out


def contract_misses(rows: list[Row]) -> list[dict[str, Any]]:
    """Our rows that break the CLI's contract: outlines over ``--max-paths``, fills over
    ``--max-colors``, or ``metrics.num_paths`` unequal to the outlines in the file."""
    out = []
    for r in rows:
        if r["cli"] != "ours" or r["error"]:
            continue
        why = []
        if r["outlines"] > r["max_paths"]:
            why.append(f"{r['outlines']} outlines > max_paths {r['max_paths']}")
        if r["max_colors"] is not None and r["fills"] > r["max_colors"]:
            why.append(f"{r['fills']} fills > max_colors {r['max_colors']}")
        if r["num_paths"] != r["outlines"]:
            why.append(f"metrics num_paths {r['num_paths']} != {r['outlines']} outlines in file")
        if why:
            out.append(
                {
                    "set": r["set"],
                    "image": r["image"],
                    "label": r["label"],
                    "mode": r["mode"],
                    "why": "; ".join(why),
                }
            )
    return out
