"""The VectorizeJob custom resource (charts/supersvg/crds/vectorizejobs.yaml): its names,
labels, annotations, phases, spec defaults, and the spec a scheduler attempt creates.

The operator reads VectorizeJobs (:func:`spec_with_defaults`, :func:`worker_config_json`);
the scheduler's Kubernetes executor writes them (:func:`attempt_manifest`). Nothing here
talks to a cluster.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

from supersvg.api.jobs.config import PRIORITIES, WorkerConfig
from supersvg.api.jobs.models import ModelRef

__all__ = [
    "ANNOTATION_TRACEPARENT",
    "API_VERSION",
    "GROUP",
    "KIND",
    "LABEL_ATTEMPT",
    "LABEL_JOB",
    "LABEL_JOB_ID",
    "LABEL_KUEUE_QUEUE",
    "LABEL_MANAGED_BY",
    "LABEL_OWNER_UID",
    "LABEL_TENANT",
    "OPERATOR",
    "PHASES",
    "PLURAL",
    "PRIORITY_CLASSES",
    "SCHEDULER",
    "TERMINAL_PHASES",
    "VERSION",
    "attempt_manifest",
    "label_value",
    "priority_class_for",
    "spec_with_defaults",
    "valid_traceparent",
    "vectorizejob_name",
    "worker_config_json",
]

GROUP = "supersvg.io"
VERSION = "v1alpha1"
PLURAL = "vectorizejobs"
KIND = "VectorizeJob"
API_VERSION = f"{GROUP}/{VERSION}"

#: ``app.kubernetes.io/managed-by`` values: who created an object.
LABEL_MANAGED_BY = "app.kubernetes.io/managed-by"
OPERATOR = "supersvg-operator"
SCHEDULER = "supersvg-scheduler"
#: On a worker pod: its VectorizeJob's name (for people; left out when too long).
LABEL_JOB = "supersvg.io/vectorizejob"
#: On a worker pod: its VectorizeJob's uid (what the operator selects pods by).
LABEL_OWNER_UID = "supersvg.io/vectorizejob-uid"
#: The attempt number: of the job on a scheduler's VectorizeJob, of the pod on a pod.
LABEL_ATTEMPT = "supersvg.io/attempt"
#: On a scheduler's VectorizeJob: the job id and tenant (as label values).
LABEL_JOB_ID = "supersvg.io/job-id"
LABEL_TENANT = "supersvg.io/tenant"
#: Kueue's pod integration: the LocalQueue a worker pod is admitted through. Set on a
#: scheduler's VectorizeJob when configured; the operator copies it onto the pod.
LABEL_KUEUE_QUEUE = "kueue.x-k8s.io/queue-name"
#: A job's priority -> the PriorityClass of its worker pod (the chart creates these three;
#: their names can be overridden, and the scheduler is given the mapping).
PRIORITY_CLASSES = {
    "low": "supersvg-low",
    "normal": "supersvg-normal",
    "high": "supersvg-high",
}
#: W3C trace context of the job's trace; becomes the worker's TRACEPARENT.
ANNOTATION_TRACEPARENT = "supersvg.io/traceparent"

PHASES = ("Pending", "Running", "Succeeded", "Failed", "Cancelled", "Suspended")
TERMINAL_PHASES = frozenset({"Succeeded", "Failed", "Cancelled"})

# The CRD's defaults. The API server applies them; applying them here too keeps readers
# correct for objects stored before a default was added. ``config`` defaults come from
# WorkerConfig (the contract test holds the CRD to them).
_DEFAULTS: dict[str, Any] = {
    "priority": "normal",
    "config": {},
    "cancel": False,
    "suspend": False,
    "device": "auto",
    "backoffLimit": 3,
    "firstAttempt": 1,
}
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")


def vectorizejob_name(job_id: str, attempt: int) -> str:
    """A DNS-1123 name for one attempt of a job (job ids are ``job_`` + a ULID)."""
    base = re.sub(r"[^a-z0-9-]+", "-", job_id.lower()).strip("-")[:240]
    return f"{base}-a{attempt}"


def label_value(text: str) -> str:
    """``text`` made a valid label value (at most 63 characters of ``[A-Za-z0-9_.-]``)."""
    value = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[:63]
    return value.strip("-_.")


def priority_class_for(priority: str, classes: Mapping[str, str], default: str = "") -> str:
    """The PriorityClass for a job ``priority`` from a mapping like :data:`PRIORITY_CLASSES`
    (``default`` when the mapping has none for it; empty: the cluster's default)."""
    return classes.get(priority if priority in PRIORITIES else "normal") or default


def valid_traceparent(value: str | None) -> bool:
    """True for a W3C ``traceparent`` value (version-traceid-spanid-flags)."""
    return bool(value) and bool(_TRACEPARENT.match(value or ""))


def spec_with_defaults(
    spec: Mapping[str, Any], gpu_resource: str = "nvidia.com/gpu"
) -> dict[str, Any]:
    """A copy of ``spec`` with every defaulted field filled in (``config`` not validated:
    the worker validates it and fails the job on a bad value)."""
    out = copy.deepcopy(dict(spec))
    for key, value in _DEFAULTS.items():
        out.setdefault(key, copy.deepcopy(value))
    out["config"] = {**WorkerConfig().to_crd(), **(out.get("config") or {})}
    if "resources" not in out:
        out["resources"] = {"limits": {gpu_resource: "1"}}
    return out


def worker_config_json(spec: Mapping[str, Any]) -> str:
    """``SUPERSVG_JOB_CONFIG`` for a (defaulted) spec: its ``config`` with field names."""
    return json.dumps(WorkerConfig.crd_to_fields(spec["config"]), sort_keys=True)


def attempt_manifest(
    *,
    name: str,
    namespace: str,
    job_id: str,
    tenant_id: str,
    attempt: int,
    priority: str,
    input_key: str,
    output_prefix: str,
    config: WorkerConfig,
    device: str,
    token_secret: str,
    scheduler_addr: str = "",
    traceparent: str = "",
    model: ModelRef | None = None,
    priority_class: str = "",
    queue_name: str = "",
    extra_spec: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The VectorizeJob of one scheduler attempt: exactly one pod (``backoffLimit: 0``,
    retries are the scheduler's), the worker token from ``token_secret`` (key ``token``),
    the learned ``model`` in ``spec.model`` (none: the analytic coarse stage).
    ``priority_class`` becomes ``spec.priorityClassName`` (the pod's), ``queue_name`` the
    Kueue queue label; ``extra_spec`` adds cluster settings (resources, tolerations, ...)."""
    spec: dict[str, Any] = {
        "jobId": job_id,
        "tenant": tenant_id[:128],
        "priority": priority if priority in PRIORITIES else "normal",
        "input": {"key": input_key},
        "output": {"prefix": output_prefix},
        "config": config.to_crd(),
        "backoffLimit": 0,
        "firstAttempt": attempt,
        "device": device,
        "workerTokenSecretRef": {"name": token_secret, "key": "token"},
        **(extra_spec or {}),
    }
    if scheduler_addr:
        spec["schedulerAddr"] = scheduler_addr
    if model is not None:
        spec["model"] = model.to_crd()
    if priority_class:
        spec["priorityClassName"] = priority_class
    meta: dict[str, Any] = {
        "name": name,
        "namespace": namespace,
        "labels": {
            LABEL_MANAGED_BY: SCHEDULER,
            LABEL_JOB_ID: label_value(job_id),
            LABEL_ATTEMPT: str(attempt),
            LABEL_TENANT: label_value(tenant_id),
        },
    }
    if queue_name:
        meta["labels"][LABEL_KUEUE_QUEUE] = queue_name
    if traceparent:
        meta["annotations"] = {ANNOTATION_TRACEPARENT: traceparent}
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": meta, "spec": spec}
