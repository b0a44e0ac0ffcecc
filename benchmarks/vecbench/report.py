"""A run's rows summarised per set x budget x mode, and written as the Markdown table.

Rows are per image and call (see ``vectorize_bench.py``); a summary is the mean over the
images of a group (seconds also their max), beside VTracer's matched points and, in palette
mode, the previous code's colour layers at the same K.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np

__all__ = ["render_md", "summarize"]

Row = dict[str, Any]
_MEAN_KEYS = (
    "outlines",
    "curves",
    "lines",
    "fills",
    "bytes",
    "gzip",
    "psnr",
    "ssim",
    "psnr4x",
    "seconds",
    "source_outlines",
    "source_bytes",
    "d_psnr",
    "d_psnr4x",
    "baseline_psnr",
    "baseline_gzip",
)
_VT_KEYS = ("outlines", "curves", "lines", "bytes", "gzip", "psnr", "ssim", "psnr4x")


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


def _group_summary(rows: list[Row]) -> dict[str, Any]:
    ok = [r for r in rows if not r["error"]]
    out: dict[str, Any] = {"n": len(ok), "errors": len(rows) - len(ok)}
    for k in _MEAN_KEYS:
        out[k] = _mean([r.get(k) for r in ok])
    out["seconds_max"] = max((r["seconds"] for r in ok), default=None)
    vt = [r["vtracer"] for r in ok if r.get("vtracer")]
    out["vtracer"] = {k: _mean([v.get(k) for v in vt]) for k in _VT_KEYS}
    out["vtracer"]["n"] = len(vt)
    out["vtracer_unmatched"] = sum(1 for r in ok if "vtracer" in r and r["vtracer"] is None)
    return out


def summarize(rows: list[Row]) -> dict[str, Any]:
    """``{set: {label: {"<cli> <mode>": summary}}}`` in the order rows were made."""
    groups: dict[tuple[str, str, str], list[Row]] = defaultdict(list)
    for r in rows:
        name = r["mode"] if r["cli"] == "ours" else f"{r['cli']} {r['mode']}"
        groups[(r["set"], r["label"], name)].append(r)
    out: dict[str, Any] = {}
    for (set_name, label, name), grp in groups.items():
        out.setdefault(set_name, {}).setdefault(label, {})[name] = _group_summary(grp)
    return out


def _f(v: float | None, fmt: str = ".2f") -> str:
    return "–" if v is None else format(v, fmt)


def _groups(summary: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    """(set, budget label, mode, summary) in the summary's order."""
    for set_name, by_label in summary.items():
        for label, by_mode in by_label.items():
            for mode, s in by_mode.items():
                yield set_name, label, mode, s


def _main_table(summary: dict[str, Any]) -> list[str]:
    lines = [
        "| set | budget | mode | n | outlines | curves / lines | bytes | gzip | PSNR | SSIM "
        "| PSNR 4x | s mean / max | VT outlines | VT curves / lines | VT bytes / gzip | VT PSNR "
        "| VT PSNR 4x | ΔPSNR | ΔPSNR 4x |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for set_name, label, mode, s in _groups(summary):
        vt = s["vtracer"]
        n = f"{s['n']}" + (f" ({s['errors']} failed)" if s["errors"] else "")
        un = s["vtracer_unmatched"]
        vt_out = _f(vt["outlines"], ".0f") + (f" ({un} none)" if un else "")
        lines.append(
            f"| {set_name} | {label} | {mode} | {n} | {_f(s['outlines'], '.0f')} | "
            f"{_f(s['curves'], '.0f')} / {_f(s['lines'], '.0f')} | "
            f"{_f(s['bytes'], '.0f')} | {_f(s['gzip'], '.0f')} | {_f(s['psnr'])} | "
            f"{_f(s['ssim'], '.3f')} | {_f(s['psnr4x'])} | "
            f"{_f(s['seconds'])} / {_f(s['seconds_max'])} | {vt_out} | "
            f"{_f(vt['curves'], '.0f')} / {_f(vt['lines'], '.0f')} | "
            f"{_f(vt['bytes'], '.0f')} / {_f(vt['gzip'], '.0f')} | {_f(vt['psnr'])} | "
            f"{_f(vt['psnr4x'])} | "
            f"{_f(s['d_psnr'], '+.2f')} | {_f(s['d_psnr4x'], '+.2f')} |"
        )
    return lines


def _palette_table(summary: dict[str, Any]) -> list[str]:
    lines = [
        "| set | K | code | n | fills | outlines | gzip | PSNR | dB per gzip KB | s mean |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for set_name, label, mode, s in _groups(summary):
        if label.startswith("K"):
            per_kb = None if s["psnr"] is None or not s["gzip"] else s["psnr"] / (s["gzip"] / 1000)
            who = "previous (colour layers)" if mode.startswith("baseline") else "ours"
            lines.append(
                f"| {set_name} | {label[1:]} | {who} | {s['n']} | {_f(s['fills'], '.1f')} | "
                f"{_f(s['outlines'], '.0f')} | {_f(s['gzip'], '.0f')} | {_f(s['psnr'])} | "
                f"{_f(per_kb, '.3f')} | {_f(s['seconds'])} |"
            )
    return lines


def _targets_section(doc: dict[str, Any]) -> list[str]:
    lines = [
        "| target | result | images checked | misses (image @ budget: figure) |",
        "|---|---|---|---|",
    ]
    for t in doc["targets"]:
        miss = "; ".join(f"{m['image']} @ {m['label']}: {m['value']}" for m in t["misses"])
        lines.append(f"| {t['target']} | **{t['status']}** | {t['checked']} | {miss} |")
    lines.append("")
    if doc["contract"]:
        lines.append(
            "Contract breaches (outlines over budget, fills over K, or metrics "
            "`num_paths` unequal to the file's outlines):"
        )
        lines.append("")
        lines += [
            f"- {c['set']} {c['image']} @ {c['label']} {c['mode']}: {c['why']}"
            for c in doc["contract"]
        ]
    else:
        lines.append(
            "Contract: every call kept outlines <= `--max-paths`, fills <= "
            "`--max-colors`, and `metrics.num_paths` equal to the file's outlines."
        )
    return lines


def _sources_and_potrace(doc: dict[str, Any]) -> list[str]:
    lines = [
        "| set | method | n | outlines | curves / lines | bytes | gzip | PSNR | SSIM | PSNR 4x |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in doc["reference_summary"]:
        lines.append(
            f"| {r['set']} | {r['method']} | {r['n']} | {_f(r['outlines'], '.1f')} | "
            f"{_f(r['curves'], '.0f')} / {_f(r['lines'], '.0f')} | {_f(r['bytes'], '.0f')} | "
            f"{_f(r['gzip'], '.0f')} | {_f(r.get('psnr'))} | {_f(r.get('ssim'), '.3f')} | "
            f"{_f(r.get('psnr4x'))} |"
        )
    return lines


def render_md(doc: dict[str, Any]) -> str:
    """The results document as Markdown."""
    m, c = doc["machine"], doc["config"]
    load = doc["loadavg"]
    lines = [
        "# Vectorizer benchmark (what users see)",
        "",
        f"Written by `benchmarks/vectorize_bench.py` at {doc['commit']}"
        f"{' (quick run)' if c['quick'] else ''}. Machine: {m['cpu']}, {m['cores']} cores, "
        f"Python {m['python']}. Load average (1, 5, 15 min) at start "
        f"{', '.join(f'{x:.2f}' for x in load['start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in load['end'])}; the CPU is shared, so seconds grow "
        f"with other work. Wall time of the run {doc['wall_seconds']:.0f} s. Our CLI on a "
        f"{c['startup_size']} px image (process start and imports, almost no work): "
        f"{doc['startup_seconds']:.2f} s (median of 3).",
        "",
        f"Images {c['size']} px. Ours: `supersvg vectorize` as a subprocess, seconds = wall "
        "time of the call with process start. Modes: `default` = `--max-paths N`; `fast` = "
        f"`--max-paths N --iterations 0`; `palette` = `--max-colors K --max-paths "
        f"{c['palette_shapes']}`, beside the previous code ({c['baseline']}) run with "
        "`--max-paths K` (its K one-colour layers). Budgets: outlines (every moveto, "
        f"holes included); `2xsrc` = twice the source SVG's outlines, per image. VTracer "
        f"{c['vtracer_version']}: {c['vtracer_points']} settings per image, on the image "
        "as given and, when it has transparency, also flattened over white; matched = its best "
        "PSNR with outlines <= ours (ties within 0.05 dB: fewest gzip bytes; VT columns; "
        "`none` = no setting that sparse); Δ = ours - "
        f"VTracer. potrace: {c['potrace_version']}. Outlines, segments and bytes are counted "
        "from the written SVG files; PSNR/SSIM on RGB over white, every SVG drawn by resvg; "
        "PSNR 4x = drawn at 4x vs the source SVG drawn at 4x.",
        "",
        "## Targets (default mode unless named)",
        "",
        *_targets_section(doc),
        "",
        "## Per set, budget and mode (means over images)",
        "",
        *_main_table(doc["summary"]),
        "",
        "## Palette mode against the previous colour layers",
        "",
        *_palette_table(doc["summary"]),
        "",
        "## Source SVGs and potrace",
        "",
        *_sources_and_potrace(doc),
        "",
        "## Rate-distortion plots",
        "",
        *[f"- {s}: [{p}]({p})" for s, p in doc["plots"].items()],
        "",
    ]
    return "\n".join(lines)
