"""Served models: how a published checkpoint is named, where it lives in the object store,
and the reference (name + sha256) a job carries to the worker.

Layout in the artifact store (the bucket the services share)::

    models/<name>/model.pt        the checkpoint, as ``supersvg train`` wrote it
    models/<name>/manifest.json   {"name", "sha256", "size", "created", "checkpoint": {...}}

``supersvg models push`` writes both (the checkpoint first, the manifest last: a manifest
marks a complete upload); the worker reads the manifest, then the checkpoint, and checks
the bytes against the digest before loading them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MODELS_PREFIX",
    "MODEL_NAME_PATTERN",
    "SHA256_PATTERN",
    "ModelRef",
    "manifest_key",
    "model_key",
    "model_name_problem",
]

MODELS_PREFIX = "models/"
#: A model name: a DNS-label-like word (it is a path segment and a label value).
MODEL_NAME_PATTERN = r"^[a-z0-9]([a-z0-9._-]{0,61}[a-z0-9])?$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
_NAME = re.compile(MODEL_NAME_PATTERN)
_SHA256 = re.compile(SHA256_PATTERN)


def model_name_problem(name: str) -> str | None:
    """Why ``name`` cannot name a model, or None when it can."""
    if not _NAME.match(name):
        return (
            f"invalid model name {name!r}: 1-63 characters of a-z, 0-9, '.', '_', '-', "
            "starting and ending with a letter or digit"
        )
    return None


def model_key(name: str) -> str:
    return f"{MODELS_PREFIX}{name}/model.pt"


def manifest_key(name: str) -> str:
    return f"{MODELS_PREFIX}{name}/manifest.json"


@dataclass(frozen=True)
class ModelRef:
    """The model a job runs with: its name and, when pinned, the checkpoint's sha256.

    An empty ``sha256`` means "the digest the model's manifest records" (the worker still
    checks the bytes against it); a pinned one must also equal the manifest's.
    """

    name: str
    sha256: str = ""

    def __post_init__(self) -> None:
        problem = model_name_problem(self.name)
        if problem:
            raise ValueError(problem)
        if self.sha256 and not _SHA256.match(self.sha256):
            raise ValueError(f"invalid sha256 {self.sha256!r}: 64 lower-case hex digits")

    def to_crd(self) -> dict[str, str]:
        """A VectorizeJob's ``spec.model``."""
        return {"name": self.name, "sha256": self.sha256} if self.sha256 else {"name": self.name}

    @classmethod
    def from_crd(cls, spec_model: Mapping[str, Any] | None) -> ModelRef | None:
        if not spec_model or not spec_model.get("name"):
            return None
        return cls(str(spec_model["name"]), str(spec_model.get("sha256") or ""))

    def __str__(self) -> str:
        return f"{self.name}@sha256:{self.sha256}" if self.sha256 else self.name
