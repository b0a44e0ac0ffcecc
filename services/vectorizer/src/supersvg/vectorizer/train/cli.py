"""``supersvg train --data DIR --stage {coarse,refine} ...``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from supersvg.datasets import DatasetError

from ..errors import VectorizerError

__all__ = ["main", "register", "run_train"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` subcommand to an argparse ``subparsers`` object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "train",
        help="train the learned coarse or refinement model",
        description=(
            "Train on superpixel crops of the images under --data (any folder of images; "
            "see `supersvg datasets download`). Writes last.pt (model, optimizer, "
            "scheduler, step, RNG states), metrics.csv and previews/ under --output."
        ),
    )
    p.add_argument("--data", type=Path, required=True, help="folder of training images")
    p.add_argument("--stage", choices=("coarse", "refine"), default="coarse")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--output", type=Path, required=True, help="run folder")
    p.add_argument("--config", choices=("tiny", "paper"), default="tiny", help="model size")
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT/last.pt")
    p.add_argument("--coarse", type=Path, default=None, help="coarse checkpoint (refine stage)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many steps")
    p.add_argument("--max-images", type=int, default=None, help="use only the first N images")
    p.add_argument("--time-limit", type=float, default=None, help="stop after this many seconds")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument(
        "--stop-after", type=int, default=None, help="end this run after N steps (resumable)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda (torchrun sets the rank)")
    p.add_argument("--no-amp", action="store_true", help="disable mixed precision on CUDA")
    p.add_argument("--num-workers", type=int, default=0, help="data loader workers")
    p.add_argument("--checkpoint-every", type=int, default=200)
    p.add_argument("--preview-every", type=int, default=200)
    p.add_argument("--log-every", type=int, default=20)
    p.set_defaults(func=run_train)
    return p


def run_train(args: argparse.Namespace) -> int:
    from .engine import TrainOptions, run_training

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    if args.epochs < 1 or args.batch_size < 1 or args.lr <= 0:
        print("error: --epochs and --batch-size must be >= 1, --lr > 0", file=sys.stderr)
        return 2
    opts = TrainOptions(
        data=args.data,
        output=args.output,
        stage=args.stage,
        config=args.config,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        weight_decay=args.weight_decay,
        max_steps=args.max_steps,
        resume=args.resume,
        coarse=args.coarse,
        seed=args.seed,
        device=args.device,
        amp=not args.no_amp,
        num_workers=args.num_workers,
        checkpoint_every=args.checkpoint_every,
        preview_every=args.preview_every,
        log_every=args.log_every,
        max_images=args.max_images,
        time_limit=args.time_limit,
        threads=args.threads,
        stop_after=args.stop_after,
    )
    try:
        summary = run_training(opts)
    except (VectorizerError, DatasetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (ValueError, FloatingPointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ValueError) else 1
    print(json.dumps(summary, default=str))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry (``python -m supersvg.vectorizer.train.cli``; torchrun uses it)."""
    parser = argparse.ArgumentParser(prog="supersvg")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
