"""``supersvg models push NAME PATH`` and ``supersvg models list``: publish training
checkpoints to the artifact store the services share (storage variables of
docs/contracts.md, e.g. ``SUPERSVG_STORAGE_BACKEND=s3`` + ``SUPERSVG_S3_*``).

Exit codes: 0 done; 2 bad arguments or a file that is not a usable checkpoint; 1 the
artifact store failed or is misconfigured.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

__all__ = ["register"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``models`` subcommand to an argparse ``subparsers`` object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "models",
        help="publish trained checkpoints for the service (push, list)",
        description=(
            "Publish `supersvg train` checkpoints to the artifact store as "
            "models/NAME/model.pt + models/NAME/manifest.json (sha256, size, created, the "
            "checkpoint's config). Select one with the chart value vectorizer.model.name."
        ),
    )
    sub = p.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    push = sub.add_parser("push", help="validate a checkpoint and upload it as model NAME")
    push.add_argument("name", help="model name (a-z, 0-9, '.', '_', '-'; at most 63)")
    push.add_argument("path", type=Path, help="checkpoint file (e.g. RUN/last.pt)")
    push.set_defaults(func=_push)
    ls = sub.add_parser("list", help="published models and their digests")
    ls.add_argument("--json", action="store_true", help="the manifests as a JSON list")
    ls.set_defaults(func=_list)
    return p


def _store() -> Any:
    from supersvg.common.storage import StorageSettings, create_store

    return create_store(StorageSettings.from_env())


def _push(args: argparse.Namespace) -> int:
    from supersvg.vectorizer import CheckpointError
    from supersvg.worker.models import push_model

    if not args.path.is_file():
        print(f"supersvg models: error: {args.path}: no such file", file=sys.stderr)
        return 2
    try:
        manifest = push_model(_store(), args.name, args.path)
    except (ValueError, CheckpointError) as exc:
        print(f"supersvg models: error: {exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # the store: configuration, network, credentials
        print(f"supersvg models: error: upload failed: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(manifest, indent=2))
    print(
        f"select it with: --set vectorizer.model.name={manifest['name']} "
        f"--set vectorizer.model.sha256={manifest['sha256']}",
        file=sys.stderr,
    )
    return 0


def _list(args: argparse.Namespace) -> int:
    from supersvg.worker.models import list_models

    try:
        manifests = list_models(_store())
    except Exception as exc:
        print(f"supersvg models: error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(manifests, indent=2))
        return 0
    for m in manifests:
        ckpt = m.get("checkpoint") or {}
        print(
            f"{m.get('name')}\tsha256:{m.get('sha256')}\t{m.get('size')} B\t"
            f"{m.get('created')}\t{ckpt.get('config', '?')} {','.join(ckpt.get('stages', []))}"
        )
    return 0
