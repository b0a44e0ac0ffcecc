"""Served models in the artifact store: publish a checkpoint (``supersvg models push``),
list them, and fetch one for a job, verified against its sha256 and cached by digest.

The layout is the job contract's (:mod:`supersvg.api.jobs.models`). A fetch reads the
manifest, then the checkpoint; the bytes must hash to the manifest's digest (and to the
job's pinned digest, when it has one), else :class:`ModelUnavailable`: the job fails, it
never runs with other weights or falls back to the analytic stage.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

from supersvg.api.jobs.models import (
    MODELS_PREFIX,
    ModelRef,
    manifest_key,
    model_key,
    model_name_problem,
)
from supersvg.common.storage import ArtifactNotFoundError, ArtifactStore

__all__ = [
    "ModelUnavailable",
    "checkpoint_metadata",
    "fetch_model",
    "list_models",
    "push_model",
    "sha256_file",
]

_CHUNK = 1 << 20


class ModelUnavailable(Exception):
    """The job's model is missing, does not match its digest, or cannot be loaded."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def checkpoint_metadata(path: Path) -> dict[str, Any]:
    """Load the checkpoint as the worker will (every model built, weights fitted) and
    return what the manifest records of it.

    Raises:
        supersvg.vectorizer.CheckpointError: the file is not a usable checkpoint.
    """
    from supersvg.vectorizer.models import load_checkpoint, load_models

    cfg, models = load_models(path)
    data = load_checkpoint(path)
    train = data.get("train") or {}
    meta: dict[str, Any] = {
        "config": cfg.name,
        "stages": sorted(models),
        "parameters": sum(p.numel() for m in models.values() for p in m.parameters()),
    }
    if data.get("stage"):
        meta["stage"] = str(data["stage"])
    if isinstance(train.get("step"), int):
        meta["step"] = train["step"]
    return meta


def push_model(
    store: ArtifactStore, name: str, path: Path, *, now: dt.datetime | None = None
) -> dict[str, Any]:
    """Validate ``path`` and publish it as model ``name``; returns the manifest.

    Raises:
        ValueError: a bad name. supersvg.vectorizer.CheckpointError: a bad checkpoint.
    """
    problem = model_name_problem(name)
    if problem:
        raise ValueError(problem)
    meta = checkpoint_metadata(path)
    size = path.stat().st_size
    manifest = {
        "name": name,
        "sha256": sha256_file(path),
        "size": size,
        "created": (now or dt.datetime.now(dt.UTC)).isoformat().replace("+00:00", "Z"),
        "checkpoint": meta,
    }
    with open(path, "rb") as fh:
        store.put_file(model_key(name), fh, size)
    # The manifest last: a fetch never sees a digest without its bytes.
    store.put(manifest_key(name), json.dumps(manifest, indent=2).encode(), "application/json")
    return manifest


def list_models(store: ArtifactStore) -> list[dict[str, Any]]:
    """The manifests of every published model, by name (incomplete uploads left out)."""
    out = []
    for folder in store.list_folders(MODELS_PREFIX):
        name = folder.rstrip("/").rsplit("/", 1)[-1]
        with contextlib.suppress(ArtifactNotFoundError, ValueError):
            out.append(json.loads(store.get(manifest_key(name))))
    return sorted(out, key=lambda m: str(m.get("name")))


def fetch_model(store: ArtifactStore, ref: ModelRef, cache_dir: Path) -> tuple[Path, str]:
    """The local path and sha256 of ``ref``'s checkpoint, downloaded once per digest into
    ``cache_dir`` and checked against the digest on every call.

    Raises:
        ModelUnavailable: not published, digest mismatch, or corrupt bytes.
    """
    try:
        manifest = json.loads(store.get(manifest_key(ref.name)))
        digest = str(manifest["sha256"])
    except ArtifactNotFoundError:
        raise ModelUnavailable(
            f"model {ref.name!r} is not published ({manifest_key(ref.name)} not found; "
            "publish it with `supersvg models push`)"
        ) from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelUnavailable(f"model {ref.name!r}: unreadable manifest ({exc})") from None
    if ref.sha256 and ref.sha256 != digest:
        raise ModelUnavailable(
            f"model {ref.name!r}: the published checkpoint is sha256:{digest}, "
            f"the job asks for sha256:{ref.sha256}"
        )
    cached = cache_dir / f"{digest}.pt"
    if cached.is_file() and sha256_file(cached) == digest:
        return cached, digest
    try:
        data = store.get(model_key(ref.name))
    except ArtifactNotFoundError:
        raise ModelUnavailable(
            f"model {ref.name!r}: {model_key(ref.name)} not found (incomplete upload?)"
        ) from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise ModelUnavailable(
            f"model {ref.name!r}: checkpoint is corrupt (sha256:{actual}, the manifest "
            f"records sha256:{digest}); push it again"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name and renamed: a reader never sees half a file.
    fd, tmp = tempfile.mkstemp(dir=cache_dir, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, cached)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return cached, digest
