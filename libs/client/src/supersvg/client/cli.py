"""``supersvg remote ...``: drive a SuperSVG server from the command line.

Registered in the ``supersvg`` command through the ``supersvg.commands`` entry-point group
(``register(subparsers)``); also runnable alone as ``python -m supersvg.client``.
The server and token come from ``--url``/``--token`` or ``SUPERSVG_URL``/``SUPERSVG_TOKEN``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from supersvg.client.client import Client
from supersvg.client.errors import SuperSVGError
from supersvg.client.models import Job

__all__ = ["build_parser", "main", "register", "run"]

ENV_URL = "SUPERSVG_URL"
ENV_TOKEN = "SUPERSVG_TOKEN"
DEFAULT_URL = "http://127.0.0.1:8080"


def _connection_flags(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: the flags may be given before or after the action without one hiding the other.
    parser.add_argument(
        "--url",
        default=argparse.SUPPRESS,
        help=f"server root, e.g. {DEFAULT_URL} (env {ENV_URL})",
    )
    parser.add_argument(
        "--token", default=argparse.SUPPRESS, help=f"API bearer token (env {ENV_TOKEN})"
    )
    parser.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print raw JSON answers"
    )


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _config_json(text: str) -> dict[str, Any]:
    try:
        value = json.loads(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--config is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("--config must be a JSON object")
    return value


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``remote`` command to a parent CLI's subparsers and return its parser."""
    remote: argparse.ArgumentParser = subparsers.add_parser(
        "remote",
        help="submit and follow jobs on a SuperSVG server",
        description="Submit images to a SuperSVG server and follow, fetch or cancel jobs.",
    )
    _fill(remote)
    return remote


def _fill(remote: argparse.ArgumentParser) -> None:
    _connection_flags(remote)
    remote.set_defaults(func=run)
    actions = remote.add_subparsers(dest="remote_action", metavar="ACTION", required=True)

    submit = actions.add_parser("submit", help="upload an image and queue a job")
    _connection_flags(submit)
    submit.add_argument("image", type=Path, help="PNG, JPEG or WebP image")
    submit.add_argument(
        "--max-paths", type=_positive_int, help="most closed outlines (holes included)"
    )
    submit.add_argument(
        "--max-colors", type=_positive_int, help="most distinct fill colours (default: no limit)"
    )
    submit.add_argument(
        "--gradients", choices=("auto", "off"), help="gradient fills where they win, or never"
    )
    submit.add_argument(
        "--iterations", type=int, dest="num_iterations", help="refinement iterations"
    )
    submit.add_argument("--priority", choices=("low", "normal", "high"))
    submit.add_argument("--output-format", default=None, help="output format (svg)")
    submit.add_argument("--callback-url", help="URL the server calls when the job ends")
    submit.add_argument(
        "--preset", choices=("auto", "photo", "illustration", "icon"), help="tuning preset"
    )
    submit.add_argument("--seed", type=int, help="random seed")
    submit.add_argument(
        "--config", type=_config_json, help="extra config as a JSON object (flags win)"
    )
    submit.add_argument("--idempotency-key", help="reuse to make a resubmission a no-op")
    submit.add_argument("--wait", action="store_true", help="wait for the job to finish")
    submit.add_argument("-o", "--output", type=Path, help="save the SVG here (implies --wait)")
    submit.add_argument("--preview", type=Path, help="save the preview PNG here (implies --wait)")
    submit.add_argument(
        "--timeout", type=float, default=None, help="seconds to wait at most (default: no limit)"
    )

    status = actions.add_parser("status", help="show a job's status and progress")
    _connection_flags(status)
    status.add_argument("job_id")
    status.add_argument("--wait", action="store_true", help="wait for a final status")
    status.add_argument("--timeout", type=float, default=None)

    result = actions.add_parser("result", help="show a finished job's result, or save the SVG")
    _connection_flags(result)
    result.add_argument("job_id")
    result.add_argument("-o", "--output", type=Path, help="save the SVG here")
    result.add_argument("--preview", type=Path, help="save the preview PNG here")

    cancel = actions.add_parser("cancel", help="cancel a queued or running job")
    _connection_flags(cancel)
    cancel.add_argument("job_id")

    listing = actions.add_parser("list", help="list your jobs, newest first")
    _connection_flags(listing)
    listing.add_argument("--status", help="only jobs with this status")
    listing.add_argument("--limit", type=_positive_int, default=20, help="at most N jobs")


def build_parser() -> argparse.ArgumentParser:
    """A standalone parser equivalent to ``supersvg remote``."""
    parser = argparse.ArgumentParser(
        prog="supersvg remote", description="Submit and follow jobs on a SuperSVG server."
    )
    _fill(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    return run(build_parser().parse_args(argv))


class _Progress:
    """A tqdm bar on a terminal; one line per change otherwise (logs stay readable)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._bar: Any = None
        if stream.isatty():
            try:
                from tqdm import tqdm
            except ImportError:
                tqdm = None
            if tqdm is not None:
                self._bar = tqdm(
                    total=100, file=stream, unit="%", bar_format="{l_bar}{bar}| {n:.0f}%"
                )

    def __call__(self, job: Job) -> None:
        if self._bar is not None:
            self._bar.set_description(f"{job.status} {job.stage or ''}".strip())
            self._bar.n = min(100.0, job.progress)
            self._bar.refresh()
        else:
            stage = f" ({job.stage})" if job.stage and job.stage != job.status else ""
            print(
                f"{job.job_id} {job.status} {job.progress:.0f}%{stage}",
                file=self._stream,
                flush=True,
            )

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def _resolve(args: argparse.Namespace) -> tuple[str, str | None]:
    url = getattr(args, "url", None) or os.environ.get(ENV_URL) or DEFAULT_URL
    token = getattr(args, "token", None) or os.environ.get(ENV_TOKEN)
    return url, token


def _print_job(job: Job, as_json: bool) -> None:
    if as_json:
        print(json.dumps(dict(job.raw), indent=2))
        return
    line = f"{job.job_id}  {job.status}  {job.progress:.0f}%"
    if job.error:
        line += f"  error: {job.error.get('code', '')} {job.error.get('message', '')}".rstrip()
    print(line)


def _wait(api: Client, job_id: str, timeout: float | None) -> Job:
    progress = _Progress(sys.stderr)
    try:
        return api.wait(job_id, timeout=timeout, on_progress=progress)
    finally:
        progress.close()


def _save_outputs(api: Client, job_id: str, svg: Path | None, preview: Path | None) -> None:
    if svg is not None:
        print(f"saved {api.download_svg(job_id, svg)}", file=sys.stderr)
    if preview is not None:
        print(f"saved {api.download_preview(job_id, preview)}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Execute a parsed ``remote`` command; returns the process exit status."""
    url, token = _resolve(args)
    as_json = bool(getattr(args, "json", False))
    action = args.remote_action
    try:
        with Client(url, token) as api:
            if action == "submit":
                job = api.submit(
                    args.image,
                    args.config,
                    max_paths=args.max_paths,
                    max_colors=args.max_colors,
                    gradients=args.gradients,
                    num_iterations=args.num_iterations,
                    priority=args.priority,
                    output_format=args.output_format,
                    callback_url=args.callback_url,
                    preset=args.preset,
                    seed=args.seed,
                    idempotency_key=args.idempotency_key,
                )
                if not (args.wait or args.output or args.preview):
                    _print_job(job, as_json)
                    return 0
                print(f"submitted {job.job_id}", file=sys.stderr)
                job = _wait(api, job.job_id, args.timeout)
                _print_job(job, as_json)
                if not job.succeeded:
                    return 1
                _save_outputs(api, job.job_id, args.output, args.preview)
                return 0
            if action == "status":
                job = _wait(api, args.job_id, args.timeout) if args.wait else api.get(args.job_id)
                _print_job(job, as_json)
                return 0
            if action == "result":
                res = api.result(args.job_id)
                if as_json:
                    print(json.dumps(dict(res.raw), indent=2))
                elif args.output is None and args.preview is None:
                    print(f"svg: {res.svg_url}")
                    if res.preview_png_url:
                        print(f"preview: {res.preview_png_url}")
                    for key, value in sorted(res.metrics.items()):
                        print(f"{key}: {value}")
                _save_outputs(api, args.job_id, args.output, args.preview)
                return 0
            if action == "cancel":
                _print_job(api.cancel(args.job_id), as_json)
                return 0
            if action == "list":
                for job in api.list(status=args.status, limit=args.limit):
                    if as_json:
                        print(json.dumps(dict(job.raw)))
                    else:
                        created = job.created_at.isoformat() if job.created_at else "-"
                        print(f"{job.job_id}  {job.status:<10}  {job.progress:>3.0f}%  {created}")
                return 0
    except SuperSVGError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    raise AssertionError(f"unknown action {action!r}")  # argparse restricts the choices
