"""``supersvg datasets download {test,quickdraw,icons,all} [ROOT]``.

The same command stands alone, without the vectorizer (and torch) installed:
``supersvg-datasets download ...`` or ``python -m supersvg.datasets download ...``.
Exit codes: 0 done, 2 usage error, 9 (``EXIT_DATASET``) network, disk or checksum failure.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from .fetch import DatasetError
from .icons import NPM_REGISTRY, download_icons
from .quickdraw import (
    QUICKDRAW_BASE_URL,
    QUICKDRAW_CATEGORIES,
    QUICKDRAW_LIMIT,
    download_quickdraw,
)
from .synthetic import generate_test

__all__ = ["EXIT_USAGE", "default_root", "main", "register", "run_download"]

EXIT_USAGE = 2


def default_root() -> Path:
    return Path(os.environ.get("SUPERSVG_DATA", "data"))


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``datasets`` subcommand to an argparse ``subparsers`` object."""
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "datasets", help="download or generate training datasets"
    )
    add_commands(parser)
    return parser


def add_commands(parser: argparse.ArgumentParser) -> None:
    """Add ``download`` (the datasets verbs) under ``parser``."""
    sub = parser.add_subparsers(dest="datasets_command", required=True)
    dl = sub.add_parser(
        "download",
        help="fetch a dataset (incremental and resumable; files are checksummed)",
        description=(
            "test: synthetic images generated locally; quickdraw: Quick, Draw! bitmaps as "
            "PNGs; icons: Tabler Icons rendered to 224 px PNGs with resvg; all: every one. "
            "Re-runs verify what exists and fetch only what is missing."
        ),
    )
    dl.add_argument("name", choices=("test", "quickdraw", "icons", "all"))
    dl.add_argument(
        "root_arg",
        nargs="?",
        type=Path,
        default=None,
        metavar="ROOT",
        help="dataset root (default $SUPERSVG_DATA or ./data)",
    )
    dl.add_argument("--root", type=Path, default=None, help="dataset root (same as ROOT)")
    dl.add_argument("--quickdraw-url", default=QUICKDRAW_BASE_URL, help="numpy_bitmap base URL")
    dl.add_argument(
        "--categories",
        default=",".join(QUICKDRAW_CATEGORIES),
        help="comma-separated Quick, Draw! categories (default: 25 built in)",
    )
    dl.add_argument(
        "--limit", type=int, default=QUICKDRAW_LIMIT, help="images per Quick, Draw! category"
    )
    dl.add_argument(
        "--icons-source",
        default="npm",
        help="'npm' (registry tarball, default), a git URL or a local Tabler Icons checkout",
    )
    dl.add_argument("--registry", default=NPM_REGISTRY, help="npm registry base URL")
    dl.add_argument("--icons-version", default=None, help="@tabler/icons version (default latest)")
    dl.add_argument("--icons-limit", type=int, default=None, help="icons per style (default all)")
    dl.add_argument("--retries", type=int, default=3, help="retries per dropped download")
    dl.add_argument("--no-progress", action="store_true", help="hide progress counters")
    dl.set_defaults(func=run_download)


def run_download(args: argparse.Namespace) -> int:
    if args.root and args.root_arg and args.root != args.root_arg:
        print(f"error: ROOT {args.root_arg} and --root {args.root} differ", file=sys.stderr)
        return EXIT_USAGE
    root: Path = args.root or args.root_arg or default_root()
    progress = not args.no_progress
    names = ["test", "quickdraw", "icons"] if args.name == "all" else [args.name]
    try:
        for name in names:
            if name == "test":
                written, kept = generate_test(root)
                print(f"test: {written} generated, {kept} verified -> {root / 'test'}")
            elif name == "quickdraw":
                cats = [c.strip() for c in args.categories.split(",") if c.strip()]
                counts = download_quickdraw(
                    root,
                    categories=cats,
                    limit=args.limit,
                    base_url=args.quickdraw_url,
                    progress=progress,
                    retries=args.retries,
                )
                total = sum(counts.values())
                print(f"quickdraw: {total} images in {len(counts)} categories")
            else:
                counts = download_icons(
                    root,
                    source=args.icons_source,
                    registry=args.registry,
                    version=args.icons_version,
                    limit=args.icons_limit,
                    progress=progress,
                    retries=args.retries,
                )
                detail = ", ".join(f"{k}: {v}" for k, v in sorted(counts.items()))
                print(f"icons: {sum(counts.values())} PNGs ({detail})")
    except DatasetError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry: ``supersvg-datasets download ...``, ``python -m supersvg.datasets``.

    ``argv`` may also start with ``datasets`` (the ``supersvg datasets ...`` spelling).
    """
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["datasets"]:
        args_in = args_in[1:]
    parser = argparse.ArgumentParser(
        prog="supersvg-datasets", description="download or generate training datasets"
    )
    add_commands(parser)
    args = parser.parse_args(args_in)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
