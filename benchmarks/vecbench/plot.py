"""Rate-distortion plots, one PNG per set: PSNR against outlines and against gzip bytes.

Every VTracer swept point of every image of the set is a grey dot; each of our calls is
a coloured marker per mode (and the previous code's palette calls another). Log x axes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt

__all__ = ["rd_plot"]

_STYLE = {
    "ours default": ("tab:red", "o"),
    "ours fast": ("tab:orange", "s"),
    "ours palette": ("tab:purple", "D"),
    "baseline palette": ("tab:brown", "x"),
    "potrace": ("tab:green", "^"),
}


def rd_plot(
    set_name: str,
    rows: list[dict[str, Any]],
    vt_points: list[dict[str, Any]],
    references: list[dict[str, Any]],
    path: Path,
) -> None:
    """Write ``path``: PSNR (1x) vs outlines and vs gzip bytes for one set."""
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.8))
    for ax, x, xlabel in (
        (axes[0], "outlines", "outlines (log)"),
        (axes[1], "gzip", "SVG bytes, gzip (log)"),
    ):
        ax.scatter(
            [max(p[x], 1) for p in vt_points],
            [p["psnr"] for p in vt_points],
            s=6,
            c="0.7",
            label="VTracer (sweep)",
            zorder=1,
        )
        for name, (colour, marker) in _STYLE.items():
            pts = [r for r in rows + references if r.get("series") == name and not r.get("error")]
            if pts:
                ax.scatter(
                    [max(r[x], 1) for r in pts],
                    [r["psnr"] for r in pts],
                    s=18,
                    c=colour,
                    marker=marker,
                    label=name,
                    zorder=2,
                )
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("PSNR at 1x (dB)")
        ax.grid(True, which="both", alpha=0.3)
    axes[1].legend(loc="lower right", fontsize=8)
    fig.suptitle(f"{set_name}: quality against size (each point one image and setting)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
