"""Running our ``supersvg vectorize`` CLI as a user would: one subprocess per image.

:class:`Cli` is one installation of the CLI: the current code (the ``supersvg`` script
next to this Python) or a previous revision extracted with ``git archive`` and put first
on ``PYTHONPATH`` (``supersvg`` is a namespace package, so the extracted
``supersvg.vectorizer`` and ``pydiffvg`` shadow the installed ones; :meth:`Cli.check`
proves which files run). The wall time of a call includes process start-up.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Call", "Cli", "extract_revision"]

#: Source folders a revision needs to run the vectorizer CLI.
REVISION_DIRS = ("services/vectorizer/src", "diffvg/src")
CALL_TIMEOUT_S = 600


@dataclass
class Call:
    """The outcome of one CLI call: the written SVG and metrics, or the error."""

    seconds: float
    svg: str | None
    metrics: dict[str, Any] | None
    error: str | None = None


@dataclass
class Cli:
    """One runnable ``supersvg`` CLI (``pythonpath`` empty: the installed current code)."""

    label: str
    pythonpath: list[Path] = field(default_factory=list)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        if self.pythonpath:
            parts = [str(p) for p in self.pythonpath]
            if env.get("PYTHONPATH"):
                parts.append(env["PYTHONPATH"])
            env["PYTHONPATH"] = os.pathsep.join(parts)
        return env

    def _command(self) -> list[str]:
        script = Path(sys.executable).parent / "supersvg"
        if script.exists():
            return [str(script)]
        return [sys.executable, "-m", "supersvg.vectorizer.cli"]

    def check(self) -> str:
        """The file ``supersvg.vectorizer.pipeline`` is imported from, for this CLI.

        Raises RuntimeError when a revision's CLI would run the installed code instead.
        """
        code = "import supersvg.vectorizer.pipeline as m; print(m.__file__)"
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=self._env(),
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        if self.pythonpath and not Path(out).resolve().is_relative_to(self.pythonpath[0].resolve()):
            raise RuntimeError(f"{self.label}: imports {out}, not the extracted revision")
        return out

    def vectorize(self, png: Path, out_dir: Path, args: list[str]) -> Call:
        """``supersvg vectorize png -o out_dir/out.svg ARGS --metrics ... --no-progress``."""
        out_dir.mkdir(parents=True, exist_ok=True)
        svg_path, metrics_path = out_dir / "out.svg", out_dir / "metrics.json"
        for p in (svg_path, metrics_path):
            p.unlink(missing_ok=True)
        cmd = [
            *self._command(),
            "vectorize",
            str(png),
            "-o",
            str(svg_path),
            *args,
            "--metrics",
            str(metrics_path),
            "--no-progress",
        ]
        t0 = time.perf_counter()
        try:
            proc = subprocess.run(
                cmd,
                env=self._env(),
                capture_output=True,
                text=True,
                timeout=CALL_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return Call(time.perf_counter() - t0, None, None, f"timeout after {CALL_TIMEOUT_S} s")
        seconds = time.perf_counter() - t0
        if proc.returncode != 0:
            tail = proc.stderr.strip().splitlines()[-3:]
            return Call(seconds, None, None, f"exit {proc.returncode}: {' | '.join(tail)}")
        return Call(seconds, svg_path.read_text(), json.loads(metrics_path.read_text()), error=None)


def extract_revision(repo: Path, rev: str, work: Path) -> Cli:
    """``git archive REV`` of the vectorizer and renderer sources into ``work``; its CLI."""
    sha = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    dest = work.resolve() / f"rev-{sha[:12]}"
    if not (dest / ".complete").exists():
        dest.mkdir(parents=True, exist_ok=True)
        archive = dest / "src.tar"
        subprocess.run(
            ["git", "-C", str(repo), "archive", "-o", str(archive), sha, *REVISION_DIRS],
            check=True,
        )
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")
        archive.unlink()
        (dest / ".complete").write_text(sha + "\n")
    return Cli(f"baseline {rev} ({sha[:9]})", [dest / d for d in REVISION_DIRS])
