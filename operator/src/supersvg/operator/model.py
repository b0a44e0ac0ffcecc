"""The VectorizeJob resource: names, labels, phases and spec defaults."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from typing import Any

__all__ = [
    "ANNOTATION_TRACEPARENT",
    "FINALIZER",
    "GROUP",
    "KIND",
    "LABEL_ATTEMPT",
    "LABEL_JOB",
    "LABEL_MANAGED_BY",
    "LABEL_OWNER_UID",
    "MANAGER",
    "PHASES",
    "PLURAL",
    "TERMINAL_PHASES",
    "VERSION",
    "spec_with_defaults",
    "valid_traceparent",
]

GROUP = "supersvg.io"
VERSION = "v1alpha1"
PLURAL = "vectorizejobs"
KIND = "VectorizeJob"
API_VERSION = f"{GROUP}/{VERSION}"

MANAGER = "supersvg-operator"
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
LABEL_JOB = "supersvg.io/vectorizejob"  # the VectorizeJob's name (for people; may be cut)
LABEL_OWNER_UID = "supersvg.io/vectorizejob-uid"  # what the operator selects pods by
LABEL_ATTEMPT = "supersvg.io/attempt"
ANNOTATION_TRACEPARENT = "supersvg.io/traceparent"
#: kopf's finalizer on every job: a deleted job is cancelled (pod stopped, status written)
#: before it goes away.
FINALIZER = "supersvg.io/operator"

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Cancelled", "Suspended")
TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Cancelled"})

# The CRD's defaults. The API server applies them; applying them here too keeps the
# operator correct for objects stored before a default was added.
_DEFAULTS: dict[str, Any] = {
    "priority": "normal",
    "config": {},
    "cancel": False,
    "suspend": False,
    "device": "auto",
    "backoffLimit": 3,
    "firstAttempt": 1,
}
_CONFIG_DEFAULTS: dict[str, Any] = {
    "maxPaths": 256,
    "numIterations": 100,
    "preset": "auto",
    "seed": 0,
    "outputFormat": "svg",
}
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def spec_with_defaults(
    spec: Mapping[str, Any], gpu_resource: str = "nvidia.com/gpu"
) -> dict[str, Any]:
    """A copy of ``spec`` with every defaulted field filled in."""
    out = copy.deepcopy(dict(spec))
    for key, value in _DEFAULTS.items():
        out.setdefault(key, copy.deepcopy(value))
    out["config"] = {**_CONFIG_DEFAULTS, **(out.get("config") or {})}
    if "resources" not in out:
        out["resources"] = {"limits": {gpu_resource: "1"}}
    return out


def valid_traceparent(value: str | None) -> bool:
    """True for a W3C ``traceparent`` value (version-traceid-spanid-flags)."""
    return bool(value) and bool(_TRACEPARENT.match(value or ""))
