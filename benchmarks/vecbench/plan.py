"""What the benchmark runs: budgets per set, our modes and their CLI arguments.

A *budget label* is ``"64"``, ``"256"``, ``"1024"`` (outlines), ``"2xsrc"`` (twice the
source SVG's outlines, per image; emoji and icons) or ``"K16"`` / ``"K64"`` (palette
mode: at most K fill colours and a generous shape budget).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "PALETTE_SHAPES",
    "SOURCE_MULTIPLE",
    "SOURCE_SETS",
    "Job",
    "budget_labels",
    "jobs_for",
]

#: Sets drawn from source SVGs (4x comparison, source outlines and bytes).
SOURCE_SETS = ("emoji", "icons", "shapes")
#: Sets with the per-image "twice the source's outlines" budget.
SOURCE_BUDGET_SETS = ("emoji", "icons")
SOURCE_MULTIPLE = 2
#: The shape budget of palette mode: generous, so that the colour limit is the one that binds.
PALETTE_SHAPES = 4096


@dataclass(frozen=True)
class Job:
    """One CLI call to make on one image: ``cli`` is ``"ours"`` or ``"baseline"``."""

    label: str  # budget label
    mode: str  # default | fast | palette
    cli: str
    max_paths: int
    max_colors: int | None = None

    def args(self) -> list[str]:
        """The ``supersvg vectorize`` arguments of this job."""
        out = ["--max-paths", str(self.max_paths)]
        if self.mode == "fast":
            out += ["--iterations", "0"]
        if self.max_colors is not None:
            out += ["--max-colors", str(self.max_colors)]
        return out


def budget_labels(set_name: str, budgets: list[int]) -> list[str]:
    """Outline budget labels of a set: the fixed budgets, plus 2xsrc on emoji and icons."""
    labels = [str(b) for b in budgets]
    if set_name in SOURCE_BUDGET_SETS:
        labels.append(f"{SOURCE_MULTIPLE}xsrc")
    return labels


def jobs_for(
    set_name: str,
    budgets: list[int],
    source_outlines: int | None,
    *,
    palette_ks: list[int],
    baseline: bool,
) -> list[Job]:
    """Every call to make on one image of ``set_name``.

    Outline budgets run in our default and fast modes; palette mode runs for each K in
    ``palette_ks`` (empty: none), beside the previous code's colour layers at the same K
    when ``baseline`` (that code's ``--max-paths K`` gave K one-colour layers).
    """
    jobs: list[Job] = []
    for label in budget_labels(set_name, budgets):
        if label.endswith("xsrc"):
            n = max(1, SOURCE_MULTIPLE * (source_outlines or 0))
        else:
            n = int(label)
        jobs += [Job(label, "default", "ours", n), Job(label, "fast", "ours", n)]
    for k in palette_ks:
        jobs.append(Job(f"K{k}", "palette", "ours", PALETTE_SHAPES, k))
        if baseline:
            jobs.append(Job(f"K{k}", "palette", "baseline", k))
    return jobs
