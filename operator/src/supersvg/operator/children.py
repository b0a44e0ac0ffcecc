"""The worker pod of one VectorizeJob attempt (a pure function of the job and settings)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import kopf

from supersvg.api.jobs import worker_env as wenv
from supersvg.api.jobs.vectorizejob import LABEL_KUEUE_QUEUE, worker_config_json
from supersvg.common.tls import TlsFiles
from supersvg.operator.model import (
    ANNOTATION_TRACEPARENT,
    LABEL_ATTEMPT,
    LABEL_JOB,
    LABEL_MANAGED_BY,
    LABEL_OWNER_UID,
    MANAGER,
    spec_with_defaults,
    valid_traceparent,
)
from supersvg.operator.settings import OperatorSettings

__all__ = ["CONTAINER", "TLS_MOUNT", "build_pod", "pod_name"]

CONTAINER = "worker"
#: Where the worker's client certificate Secret is mounted (with worker_tls_secret).
TLS_MOUNT = "/etc/supersvg/tls"


def pod_name(job_name: str, attempt: int) -> str:
    """Deterministic: re-creating the same attempt's pod is a 409, never a duplicate."""
    return f"{job_name}-{attempt}"


def _env(
    job: Mapping[str, Any], spec: Mapping[str, Any], attempt: int, settings: OperatorSettings
) -> list[dict[str, Any]]:
    meta = job["metadata"]
    env: list[dict[str, Any]] = [
        {"name": wenv.ENV_JOB_ID, "value": spec.get("jobId") or meta["name"]},
        {"name": wenv.ENV_INPUT_KEY, "value": spec["input"]["key"]},
        {"name": wenv.ENV_OUTPUT_PREFIX, "value": spec["output"]["prefix"]},
        {"name": wenv.ENV_CONFIG, "value": worker_config_json(spec)},
        {"name": wenv.ENV_ATTEMPT, "value": str(spec["firstAttempt"] + attempt - 1)},
        {"name": wenv.ENV_DEVICE, "value": spec["device"]},
        # A read-only root filesystem: libraries that cache under $HOME write to /tmp.
        {"name": "HOME", "value": "/tmp"},
    ]
    bucket = spec["output"].get("bucket") or spec["input"].get("bucket")
    if bucket:
        # Explicit env wins over envFrom, so the job's bucket overrides the configured one.
        env.append({"name": "SUPERSVG_S3_BUCKET", "value": bucket})
    token_ref = spec.get("workerTokenSecretRef")
    scheduler = spec.get("schedulerAddr") or (settings.scheduler_addr if token_ref else "")
    if scheduler:
        env.append({"name": wenv.ENV_SCHEDULER_ADDR, "value": scheduler})
    if token_ref:
        env.append(
            {
                "name": wenv.ENV_WORKER_TOKEN,
                "valueFrom": {
                    "secretKeyRef": {
                        "name": token_ref["name"],
                        "key": token_ref.get("key", "token"),
                    }
                },
            }
        )
    model = spec.get("model") or {}
    if model.get("name"):
        # Passed as written (the CRD schema checks the form); the worker checks the model
        # itself and fails the attempt with a clear error when it is missing or corrupt.
        env.append({"name": wenv.ENV_MODEL, "value": model["name"]})
        if model.get("sha256"):
            env.append({"name": wenv.ENV_MODEL_SHA256, "value": model["sha256"]})
    traceparent = (meta.get("annotations") or {}).get(ANNOTATION_TRACEPARENT)
    if valid_traceparent(traceparent):
        env.append({"name": wenv.ENV_TRACEPARENT, "value": traceparent})
    if settings.worker_tls_secret:
        files = TlsFiles.in_dir(TLS_MOUNT)
        env += [
            {"name": wenv.ENV_TLS_CA_FILE, "value": str(files.ca)},
            {"name": wenv.ENV_TLS_CERT_FILE, "value": str(files.cert)},
            {"name": wenv.ENV_TLS_KEY_FILE, "value": str(files.key)},
        ]
    return env


def build_pod(job: Mapping[str, Any], attempt: int, settings: OperatorSettings) -> dict[str, Any]:
    """The pod for ``attempt`` (from 1) of ``job``, owned by it."""
    meta = job["metadata"]
    spec = spec_with_defaults(job.get("spec") or {}, settings.gpu_resource)
    resources = spec["resources"]
    wants_gpu = any(
        settings.gpu_resource in (resources.get(kind) or {}) for kind in ("limits", "requests")
    )
    env_from: list[dict[str, Any]] = []
    if settings.storage_configmap:
        env_from.append({"configMapRef": {"name": settings.storage_configmap}})
    if settings.storage_secret:
        env_from.append({"secretRef": {"name": settings.storage_secret}})
    tolerations = list(spec.get("tolerations") or [])
    if wants_gpu and not any(t.get("key") == settings.gpu_resource for t in tolerations):
        # GPU node pools are commonly tainted with the resource name (EKS, GKE).
        tolerations.append(
            {"key": settings.gpu_resource, "operator": "Exists", "effect": "NoSchedule"}
        )
    uid = settings.run_as_user
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": spec.get("image") or settings.worker_image,
        "imagePullPolicy": settings.image_pull_policy,
        "command": ["supersvg-worker"],
        "env": _env(job, spec, attempt, settings),
        "resources": resources,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": uid,
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        # The worker's last log lines become the failure message when it writes none.
        "terminationMessagePolicy": "FallbackToLogsOnError",
    }
    if env_from:
        container["envFrom"] = env_from
    volumes: list[dict[str, Any]] = [{"name": "tmp", "emptyDir": {}}]
    if settings.worker_tls_secret:
        # A Secret volume (not subPath) so that a renewed certificate reaches the pod.
        volumes.append(
            {
                "name": "tls",
                "secret": {"secretName": settings.worker_tls_secret, "defaultMode": 0o440},
            }
        )
        container["volumeMounts"].append({"name": "tls", "mountPath": TLS_MOUNT, "readOnly": True})
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": uid,
            "runAsGroup": uid,
            "fsGroup": uid,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
        "volumes": volumes,
    }
    node_selector = {**settings.node_selector, **(spec.get("nodeSelector") or {})}
    if node_selector:
        pod_spec["nodeSelector"] = node_selector
    if tolerations:
        pod_spec["tolerations"] = tolerations
    if spec.get("affinity"):
        pod_spec["affinity"] = spec["affinity"]
    priority_class = spec.get("priorityClassName") or settings.priority_classes.get(
        spec["priority"]
    )
    if priority_class:
        pod_spec["priorityClassName"] = priority_class
    if settings.worker_service_account:
        pod_spec["serviceAccountName"] = settings.worker_service_account
    labels = {
        LABEL_MANAGED_BY: MANAGER,
        LABEL_OWNER_UID: meta["uid"],
        LABEL_ATTEMPT: str(attempt),
    }
    queue = (meta.get("labels") or {}).get(LABEL_KUEUE_QUEUE)
    if queue:  # Kueue admits the pod through this LocalQueue
        labels[LABEL_KUEUE_QUEUE] = queue
    if len(meta["name"]) <= 63:
        labels[LABEL_JOB] = meta["name"]
    annotations = {}
    traceparent = (meta.get("annotations") or {}).get(ANNOTATION_TRACEPARENT)
    if valid_traceparent(traceparent):
        annotations[ANNOTATION_TRACEPARENT] = traceparent
    pod: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": pod_name(meta["name"], attempt),
            "labels": labels,
            "annotations": annotations,
        },
        "spec": pod_spec,
    }
    # Owner reference (garbage collection with the job) and the job's namespace.
    kopf.adopt(pod, owner=dict(job))  # type: ignore[arg-type]
    # adopt() copies the owner's labels too; ours must win over any user label.
    pod["metadata"]["labels"].update(labels)
    return pod
