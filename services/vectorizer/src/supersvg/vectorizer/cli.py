"""The ``supersvg`` command line: subcommands registered by the vectorizer's modules.

Other modules add subcommands with :func:`register`, or by exposing
``register(subparsers)`` in one of the modules listed in ``_PLUGIN_MODULES`` (e.g.
``supersvg train``, ``supersvg remote``) or through the ``supersvg.commands`` entry
point (``supersvg datasets``); a subcommand sets ``func(args) -> int`` as its default.
Exit codes of ``supersvg vectorize``: EXIT_HELP.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .config import PRESETS, VectorizeConfig
from .errors import EXIT_CODES, VectorizerError

__all__ = ["EXIT_HELP", "build_parser", "main", "register"]

#: Modules probed for a ``register(subparsers)`` function (absent ones are skipped).
_PLUGIN_MODULES = (
    "supersvg.vectorizer.train.cli",
    "supersvg.client.cli",
)

AddParser = Callable[[Any], Any]
_REGISTRY: list[AddParser] = []

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")

EXIT_HELP = """exit codes:
  0    success
  1    internal error
  2    usage error (bad arguments)
  3    NOT_AN_IMAGE        input is not an image (or cannot be found)
  4    TRUNCATED           image data is cut off or corrupt
  5    EMPTY               input is empty or has 0 pixels
  6    TOO_LARGE           over the pixel limit (decompression-bomb guard)
  7    UNSUPPORTED_FORMAT  an image format other than PNG, JPEG, WebP
  8    CHECKPOINT          --checkpoint given but the learned model cannot be used
  9    IO                  the output cannot be written
  130  CANCELLED           interrupted
In batch mode (a folder as INPUT) the exit code is that of the first failure; every
file is still attempted."""


def register(add_parser: AddParser) -> AddParser:
    """Register a function that adds a subcommand (usable as a decorator)."""
    if add_parser not in _REGISTRY:
        _REGISTRY.append(add_parser)
    return add_parser


def _positive_int(text: str) -> int:
    v = int(text)
    if v < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return v


def _non_negative_int(text: str) -> int:
    v = int(text)
    if v < 0:
        raise argparse.ArgumentTypeError("must be at least 0")
    return v


def _add_vectorize(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "vectorize",
        help="convert a raster image (or a folder of them) to SVG",
        description="Convert PNG / JPEG / WebP images to compact SVG paths.",
        epilog=EXIT_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("input", help="image file, folder of images, or - for stdin")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="SVG file, folder (when INPUT is a folder), or - for stdout",
    )
    p.add_argument(
        "--max-paths",
        type=_positive_int,
        default=256,
        help="most closed outlines (subpaths, holes included) in the SVG (default 256)",
    )
    p.add_argument(
        "--max-colors",
        type=_positive_int,
        default=None,
        metavar="N",
        help="most distinct fill colours (default: no limit beyond --max-paths)",
    )
    p.add_argument(
        "--gradients",
        choices=["auto", "off"],
        default="auto",
        help="gradient fills where they beat flat colour (auto, the default) or never",
    )
    p.add_argument(
        "--iterations",
        type=_non_negative_int,
        default=100,
        help="refinement steps through the differentiable renderer; 0 = analytic only",
    )
    p.add_argument(
        "--time-budget",
        type=float,
        default=VectorizeConfig.time_budget,
        metavar="SECONDS",
        help="stop refining when this many seconds have passed since the start "
        f"(default {VectorizeConfig.time_budget:g}; 0 = no limit)",
    )
    p.add_argument("--preset", choices=["auto", *PRESETS], default="auto")
    p.add_argument("--checkpoint", default=None, help="learned coarse model checkpoint")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default cpu)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--preview", default=None, help="write the rendered SVG as PNG here")
    p.add_argument("--metrics", default=None, help="write metrics JSON here")
    p.add_argument("--max-pixels", type=_positive_int, default=64_000_000)
    p.add_argument("--precision", type=int, default=1, choices=range(5), metavar="{0..4}")
    p.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    p.set_defaults(func=_run_vectorize)


def build_parser(*, plugins: bool = True) -> argparse.ArgumentParser:
    """The ``supersvg`` parser; ``plugins=False`` skips importing other subcommands."""
    parser = argparse.ArgumentParser(prog="supersvg", description="SuperSVG vectorizer tools")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    _add_vectorize(sub)
    for name in _PLUGIN_MODULES if plugins else ():
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue
            raise
        add = getattr(mod, "register", None) or getattr(mod, "add_parser", None)
        if callable(add):
            register(add)
    # Installed distributions add commands through the ``supersvg.commands`` entry points
    # (loading them imports their modules, torch included: not for `vectorize`).
    for ep in importlib.metadata.entry_points(group="supersvg.commands") if plugins else ():
        register(ep.load())
    for add in _REGISTRY if plugins else ():
        add(sub)
    return parser


class _Progress:
    """A tqdm bar on a terminal; nothing otherwise."""

    def __init__(self, enabled: bool, label: str) -> None:
        self.bar: Any = None
        if enabled:
            from tqdm import tqdm

            self.bar = tqdm(total=100, desc=label, unit="%", file=sys.stderr, leave=False)

    def __call__(self, stage: str, percent: float) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(stage)
            self.bar.n = percent
            self.bar.refresh()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _write(path: str, data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    try:
        if path == "-":
            sys.stdout.buffer.write(raw)
            sys.stdout.buffer.flush()
            return
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, out)
    except OSError as exc:
        raise VectorizerError(f"cannot write {path}: {exc}", "IO") from exc


def _one(
    args: argparse.Namespace, cfg: VectorizeConfig, src: str, dst: str, extra: dict[str, str]
) -> None:
    from .loader import load_image

    data: Any = sys.stdin.buffer.read() if src == "-" else src
    # Decode first (light imports only): bad input fails before the pipeline loads.
    image = load_image(data, max_pixels=cfg.max_pixels)
    from .pipeline import Vectorizer

    show = not args.no_progress and sys.stderr.isatty()
    bar = _Progress(show, Path(src).name if src != "-" else "stdin")
    try:
        res = Vectorizer(cfg).vectorize(image, progress=bar)
    finally:
        bar.close()
    _write(dst, res.svg)
    if extra.get("preview"):
        _write(extra["preview"], res.preview_png)
    if extra.get("metrics"):
        _write(extra["metrics"], json.dumps(res.metrics, indent=2, sort_keys=True) + "\n")


def _run_vectorize(args: argparse.Namespace) -> int:
    try:
        cfg = VectorizeConfig(
            max_paths=args.max_paths,
            max_colors=args.max_colors,
            gradients=args.gradients,
            iterations=args.iterations,
            time_budget=args.time_budget,
            preset=args.preset,
            seed=args.seed,
            device=args.device,
            checkpoint=args.checkpoint,
            max_pixels=args.max_pixels,
            precision=args.precision,
        )
    except ValueError as exc:
        print(f"supersvg: error: {exc}", file=sys.stderr)
        return EXIT_CODES["USAGE"]
    if args.checkpoint and not Path(args.checkpoint).is_file():
        print(f"supersvg: error: CHECKPOINT: {args.checkpoint}: no such file", file=sys.stderr)
        return EXIT_CODES["CHECKPOINT"]

    if cfg.uses_torch:
        # Imported only then: pydiffvg imports torch, which fast mode never needs.
        from pydiffvg.allocator import keep_freed_memory

        keep_freed_memory()  # render steps reuse their memory (pydiffvg.allocator)

    jobs: list[tuple[str, str, dict[str, str]]] = []
    if args.input != "-" and Path(args.input).is_dir():
        if args.output == "-":
            print("supersvg: error: a folder INPUT needs a folder -o", file=sys.stderr)
            return EXIT_CODES["USAGE"]
        out_dir = Path(args.output)
        files = sorted(
            f
            for f in Path(args.input).iterdir()
            if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
        )
        for f in files:
            extra = {}
            if args.preview:
                extra["preview"] = str(Path(args.preview) / (f.stem + ".png"))
            if args.metrics:
                extra["metrics"] = str(Path(args.metrics) / (f.stem + ".json"))
            jobs.append((str(f), str(out_dir / (f.stem + ".svg")), extra))
        if not jobs:
            print(f"supersvg: error: no images in {args.input}", file=sys.stderr)
            return EXIT_CODES["NOT_AN_IMAGE"]
    else:
        extra = {k: v for k, v in (("preview", args.preview), ("metrics", args.metrics)) if v}
        jobs.append((args.input, args.output, extra))

    status = 0
    for src, dst, extra in jobs:
        t0 = time.perf_counter()
        try:
            _one(args, cfg, src, dst, extra)
        except VectorizerError as exc:
            print(f"supersvg: error: {src}: {exc}", file=sys.stderr)
            status = status or exc.exit_code
            continue
        if len(jobs) > 1:
            print(f"{src} -> {dst} ({time.perf_counter() - t0:.2f} s)", file=sys.stderr)
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``supersvg`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    # `vectorize` needs none of the other subcommands: skip importing them (start-up time).
    parser = build_parser(plugins=not (argv and argv[0] == "vectorize"))
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("supersvg: interrupted", file=sys.stderr)
        return EXIT_CODES["CANCELLED"]


if __name__ == "__main__":
    sys.exit(main())
