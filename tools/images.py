#!/usr/bin/env python3
"""Build or push the container images (``make images``, ``make push``); standard library only.

    tools/images.py build --registry R --tag T NAME=DOCKERFILE...   # host platform, local store
    tools/images.py push  --registry R --tag T NAME=DOCKERFILE...   # multi-arch, to R
    ... --dry-run   prints the commands and runs nothing (no engine needed)

``push`` builds every image with ``docker buildx build --push`` for ``--platforms``, except
the images named by ``--single-arch`` (the CUDA worker: NVIDIA's CUDA runtime and PyTorch's
CUDA wheels are used for linux/amd64 only), which are built for linux/amd64 alone.
Without a container engine the command fails with a message that says so.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence

__all__ = ["commands", "main"]

DEFAULT_PLATFORMS = "linux/amd64,linux/arm64"
SINGLE_ARCH_PLATFORM = "linux/amd64"


def _parse_images(pairs: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for pair in pairs:
        name, sep, dockerfile = pair.partition("=")
        if not sep or not name or not dockerfile:
            raise SystemExit(f"images: expected NAME=DOCKERFILE, got {pair!r}")
        out.append((name, dockerfile))
    return out


def commands(
    action: str,
    images: Sequence[tuple[str, str]],
    registry: str,
    tag: str,
    *,
    docker: str = "docker",
    platforms: str = DEFAULT_PLATFORMS,
    single_arch: Sequence[str] = (),
) -> list[list[str]]:
    """The command lines that build (``build``) or build and push (``push``) ``images``."""
    if not registry:
        raise SystemExit("images: IMAGE_REGISTRY is empty")
    registry = registry.rstrip("/")
    out = []
    for name, dockerfile in images:
        ref = f"{registry}/{name}:{tag}"
        if action == "build":
            out.append([docker, "build", "-f", dockerfile, "-t", ref, "."])
        else:
            platform = SINGLE_ARCH_PLATFORM if name in single_arch else platforms
            build = [docker, "buildx", "build", "--platform", platform]
            out.append([*build, "-f", dockerfile, "-t", ref, "--push", "."])
    return out


def _engine_problem(docker: str, action: str) -> str | None:
    """Why the engine cannot run the commands, or None."""
    if shutil.which(docker) is None:
        return (
            f"'{docker}' is not installed; building images needs a container engine "
            "(Docker with buildx, or DOCKER=podman for `make images`)"
        )
    probe = [docker, "info"] if action == "build" else [docker, "buildx", "inspect"]
    try:
        done = subprocess.run(probe, capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"'{' '.join(probe)}' failed: {exc}"
    if done.returncode != 0:
        if action == "build":
            return (
                f"no container engine answers ('{' '.join(probe)}' exited {done.returncode}); "
                "start the engine or build in CI"
            )
        return (
            f"no buildx builder answers ('{' '.join(probe)}' exited {done.returncode}); start "
            "the engine and create a multi-platform builder (docs/operations.md, Images)"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("build", "push"))
    parser.add_argument("images", nargs="+", metavar="NAME=DOCKERFILE")
    parser.add_argument("--registry", required=True)
    parser.add_argument("--tag", required=True)
    parser.add_argument("--docker", default="docker")
    parser.add_argument("--platforms", default=DEFAULT_PLATFORMS)
    parser.add_argument("--single-arch", default="", metavar="NAME[,NAME]")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(argv)
    cmds = commands(
        args.action,
        _parse_images(args.images),
        args.registry,
        args.tag,
        docker=args.docker,
        platforms=args.platforms,
        single_arch=[n for n in args.single_arch.split(",") if n],
    )
    if args.dry_run:
        for cmd in cmds:
            print(shlex.join(cmd))
        return 0
    problem = _engine_problem(args.docker, args.action)
    if problem:
        print(f"make {'images' if args.action == 'build' else 'push'}: {problem}", file=sys.stderr)
        return 2
    for cmd in cmds:
        print(f"+ {shlex.join(cmd)}", flush=True)
        code = subprocess.run(cmd, check=False).returncode
        if code != 0:
            return code
    return 0


if __name__ == "__main__":
    sys.exit(main())
