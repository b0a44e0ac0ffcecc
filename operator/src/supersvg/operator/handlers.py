"""kopf handlers: every event of a VectorizeJob or of its pods reconciles the job.

The handlers are thin: they find which job an event is about and call
:meth:`Runtime.reconcile`, which reads the job and its pods afresh and applies one
decision. Time-driven steps (retry backoff, deadlines, TTL) come from the runtime's
wake-ups; the first event of each job after a start (kopf lists everything) rebuilds them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import kopf

from supersvg.common.kube import make_api_client
from supersvg.operator.model import (
    FINALIZER,
    GROUP,
    KIND,
    LABEL_MANAGED_BY,
    MANAGER,
    PLURAL,
    VERSION,
)
from supersvg.operator.runtime import Runtime
from supersvg.operator.settings import OperatorSettings

__all__ = ["configure_kopf"]


def configure_kopf(settings: kopf.OperatorSettings, config: OperatorSettings) -> None:
    """kopf's own settings, from ours."""
    # We post our own Events (one per transition), not one per handler log line.
    settings.posting.enabled = False
    # Handler progress in annotations of our group; status holds only our fields.
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration"
    )
    settings.persistence.finalizer = FINALIZER
    settings.watching.server_timeout = config.watch_server_timeout
    settings.watching.client_timeout = config.watch_client_timeout
    settings.execution.max_workers = config.max_workers


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: Any, logger: Any, **_: Any) -> None:
    # Async on purpose: changing max_workers replaces the executor sync handlers run in.
    config = memo.get("config")
    if not isinstance(config, OperatorSettings):  # retrying cannot fix how it was started
        raise kopf.PermanentError("start the operator with supersvg-operator (no settings)")
    configure_kopf(settings, config)
    api_client = await asyncio.to_thread(make_api_client)  # reads the kubeconfig file
    runtime = Runtime(config, api_client)
    await asyncio.to_thread(runtime.start)
    memo["runtime"] = runtime
    logger.info(
        "operator started (namespace=%s, metrics port=%s)",
        config.namespace or "*",
        runtime.metrics_port,
    )


@kopf.on.cleanup()
async def cleanup(memo: Any, **_: Any) -> None:
    runtime: Runtime | None = memo.get("runtime")
    if runtime is not None:
        await asyncio.to_thread(runtime.stop)


@kopf.on.event(GROUP, VERSION, PLURAL)
def job_event(event: kopf.RawEvent, namespace: str | None, name: str, memo: Any, **_: Any) -> None:
    runtime: Runtime = memo["runtime"]
    if namespace is None:
        return  # VectorizeJobs are namespaced; nothing else arrives here
    if event.get("type") == "DELETED":
        runtime.forget(namespace, name)
        return
    runtime.reconcile(namespace, name)


@kopf.on.delete(GROUP, VERSION, PLURAL, backoff=2.0)
def job_deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    runtime: Runtime = memo["runtime"]
    runtime.on_deleted(dict(body))


@kopf.on.event("v1", "pods", labels={LABEL_MANAGED_BY: MANAGER})
def pod_event(body: kopf.Body, namespace: str | None, memo: Any, **_: Any) -> None:
    runtime: Runtime = memo["runtime"]
    if namespace is None:
        return
    for ref in body.metadata.get("ownerReferences") or []:
        if ref.get("kind") == KIND and str(ref.get("apiVersion", "")).startswith(f"{GROUP}/"):
            runtime.reconcile(namespace, ref["name"])
