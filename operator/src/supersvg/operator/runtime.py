"""Applies reconcile plans with the Kubernetes client, and wakes jobs up when time passes.

The state of every job lives in the cluster (see :mod:`supersvg.operator.reconcile`); this
module holds only what is safe to lose on a restart: per-job locks that serialise
reconciles of one job, the wake-up timetable (rebuilt from the first event of each job),
and metrics.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import logging
import os
import socket
import threading
from collections.abc import Callable, Mapping
from typing import Any

import kubernetes
from kubernetes.client.rest import ApiException
from opentelemetry import trace

from supersvg.common.kube import VectorizeJobs
from supersvg.common.tracing import extract_context, traceparent
from supersvg.operator.metrics import Metrics, MetricsServer
from supersvg.operator.model import (
    ANNOTATION_TRACEPARENT,
    API_VERSION,
    FINALIZER,
    KIND,
    LABEL_OWNER_UID,
    MANAGER,
    TERMINAL_PHASES,
    valid_traceparent,
)
from supersvg.operator.reconcile import Event, Plan, decide, format_time
from supersvg.operator.settings import OperatorSettings

__all__ = ["Runtime", "Waker"]

logger = logging.getLogger("supersvg.operator")
tracer = trace.get_tracer("supersvg.operator")


class _pod_span:
    """A span for creating an attempt's pod, child of the job's trace (the
    ``supersvg.io/traceparent`` annotation). The pod's ``TRACEPARENT`` then names this
    span, so the worker's spans hang under the operator's in the job's one trace."""

    def __init__(self, job: Mapping[str, Any], pod: dict[str, Any]) -> None:
        self.job, self.pod = job, pod
        self._cm: Any = None

    def __enter__(self) -> dict[str, Any]:
        meta = self.job.get("metadata") or {}
        parent = (meta.get("annotations") or {}).get(ANNOTATION_TRACEPARENT)
        if not valid_traceparent(parent):
            return self.pod  # a job applied without a trace: nothing to continue
        self._cm = tracer.start_as_current_span(
            "operator.create_pod",
            context=extract_context({"traceparent": str(parent)}),
            attributes={
                "k8s.namespace.name": str(meta.get("namespace", "")),
                "supersvg.vectorizejob": str(meta.get("name", "")),
                "k8s.pod.name": str(self.pod["metadata"]["name"]),
            },
        )
        self._cm.__enter__()
        child = traceparent()
        if child is None:
            return self.pod
        pod = json.loads(json.dumps(self.pod))  # the plan stays as decided
        for container in pod["spec"]["containers"]:
            for var in container.get("env") or []:
                if var.get("name") == "TRACEPARENT":
                    var["value"] = child
        annotations = pod["metadata"].setdefault("annotations", {})
        if ANNOTATION_TRACEPARENT in annotations:
            annotations[ANNOTATION_TRACEPARENT] = child
        return pod

    def __exit__(self, *exc: Any) -> None:
        if self._cm is not None:
            self._cm.__exit__(*exc)


Key = tuple[str, str]  # (namespace, name)


def _utcnow() -> dt.datetime:
    return dt.datetime.now(tz=dt.UTC)


class Waker:
    """Calls ``callback(key)`` at the requested times, from one background thread."""

    def __init__(self, callback: Callable[[Key], None], clock: Callable[[], dt.datetime]) -> None:
        self._callback = callback
        self._clock = clock
        self._heap: list[tuple[dt.datetime, Key]] = []
        self._cond = threading.Condition()
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="waker", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=10)

    def schedule(self, key: Key, when: dt.datetime) -> None:
        with self._cond:
            heapq.heappush(self._heap, (when, key))
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped:
                    now = self._clock()
                    if self._heap and self._heap[0][0] <= now:
                        break
                    timeout = (self._heap[0][0] - now).total_seconds() if self._heap else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                now = self._clock()
                due: set[Key] = set()
                while self._heap and self._heap[0][0] <= now:
                    due.add(heapq.heappop(self._heap)[1])
            for key in sorted(due):
                try:
                    self._callback(key)
                except Exception:  # a wake-up must never kill the thread
                    logger.exception("wake-up of %s/%s failed", *key)


class Runtime:
    """The operator's working parts for one run (kept in kopf's ``memo``)."""

    def __init__(
        self,
        settings: OperatorSettings,
        api_client: kubernetes.client.ApiClient,
        clock: Callable[[], dt.datetime] = _utcnow,
    ) -> None:
        self.settings = settings
        self.api_client = api_client
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.jobs = VectorizeJobs(api_client)
        self.clock = clock
        self.metrics = Metrics()
        self.waker = Waker(self._wake, clock)
        self._locks: dict[Key, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._metrics_server: MetricsServer | None = None
        self._instance = os.environ.get("HOSTNAME") or socket.gethostname()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        self.waker.start()
        if self.settings.metrics_port:
            self._metrics_server = MetricsServer(
                self.metrics, self.settings.metrics_host, self.settings.metrics_port
            )
            self._metrics_server.start()

    def stop(self) -> None:
        self.waker.stop()
        if self._metrics_server is not None:
            self._metrics_server.stop()
        self.api_client.close()

    @property
    def metrics_port(self) -> int | None:
        return self._metrics_server.port if self._metrics_server else None

    def _lock(self, key: Key) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    def forget(self, namespace: str, name: str) -> None:
        """The job is gone from the cluster."""
        self.metrics.forget((namespace, name))
        with self._locks_guard:
            self._locks.pop((namespace, name), None)

    def _wake(self, key: Key) -> None:
        self.reconcile(*key)

    # ------------------------------------------------------------------ reading

    def _get_job(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self.jobs.get(namespace, name)

    def _pods(self, namespace: str, uid: str) -> list[dict[str, Any]]:
        # Raw JSON: the operator reads a few fields and must not trip over model validation.
        resp = self.core.list_namespaced_pod(
            namespace, label_selector=f"{LABEL_OWNER_UID}={uid}", _preload_content=False
        )
        return list(json.loads(resp.data)["items"])

    # ------------------------------------------------------------------ reconcile

    def reconcile(self, namespace: str, name: str) -> Plan | None:
        """Bring one job a step closer to its goal; safe to call any time, from any thread."""
        key = (namespace, name)
        with self._lock(key):
            try:
                job = self._get_job(namespace, name)
                if job is None:
                    self.forget(namespace, name)
                    return None
                meta = job["metadata"]
                if FINALIZER not in (meta.get("finalizers") or []) and not meta.get(
                    "deletionTimestamp"
                ):
                    # Start nothing before kopf's finalizer is on: a job deleted right away
                    # must still be seen being deleted. Adding it sends another event.
                    return None
                pods = self._pods(namespace, job["metadata"]["uid"])
                now = self.clock()
                plan = decide(job, pods, now, self.settings)
                self._apply(job, plan)
            except ApiException as exc:
                self.metrics.count("reconcile_errors")
                delay = self.settings.error_retry_seconds
                if exc.status == 409:  # the job changed under us: look again at once
                    delay = 0.0
                else:
                    logger.warning(
                        "reconcile of %s/%s failed: %s %s; retrying in %.1fs",
                        namespace,
                        name,
                        exc.status,
                        exc.reason,
                        delay,
                    )
                self.waker.schedule(key, self.clock() + dt.timedelta(seconds=delay))
                return None
            except Exception:
                self.metrics.count("reconcile_errors")
                logger.exception("reconcile of %s/%s failed", namespace, name)
                retry = dt.timedelta(seconds=self.settings.error_retry_seconds)
                self.waker.schedule(key, self.clock() + retry)
                return None
            self.metrics.observe(key, plan.phase)
            if plan.wake_at is not None and not plan.delete_job:
                self.waker.schedule(key, plan.wake_at)
            return plan

    def _apply(self, job: Mapping[str, Any], plan: Plan) -> None:
        meta = job["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        if plan.create_pod is not None:
            try:
                with _pod_span(job, plan.create_pod) as pod_body:
                    self.core.create_namespaced_pod(namespace, pod_body)
                self.metrics.count("pods_created")
                logger.info(
                    "created pod %s for %s/%s",
                    plan.create_pod["metadata"]["name"],
                    namespace,
                    name,
                )
            except ApiException as exc:
                if exc.status != 409:  # 409: an earlier run created it already
                    raise
        for pod in plan.delete_pods:
            self._delete_pod(namespace, pod)
        if plan.status:
            # The resourceVersion makes this a compare-and-swap: a job changed since it was
            # read (e.g. cancelled) answers 409 and is reconciled again.
            body = {
                "metadata": {"resourceVersion": meta["resourceVersion"]},
                "status": plan.status,
            }
            self.jobs.patch_status(namespace, name, body)
            logger.info(
                "%s/%s: %s",
                namespace,
                name,
                json.dumps({k: v for k, v in plan.status.items() if k != "conditions"}),
            )
        for event in plan.events:
            self.post_event(job, event)
        if plan.delete_job:
            self.post_event(
                job, Event("Normal", "TTLExpired", "deleting: ttlSecondsAfterFinished passed")
            )
            try:
                self.jobs.delete(namespace, name)
                self.metrics.count("jobs_deleted_ttl")
            except ApiException as exc:
                if exc.status != 404:
                    raise

    def _delete_pod(self, namespace: str, pod: str) -> None:
        try:
            self.core.delete_namespaced_pod(pod, namespace)
            logger.info("deleted pod %s/%s", namespace, pod)
        except ApiException as exc:
            if exc.status != 404:
                raise

    def on_deleted(self, job: Mapping[str, Any]) -> None:
        """A job is being deleted before it finished: stop its pod and record Cancelled."""
        meta = job["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        with self._lock((namespace, name)):
            status = job.get("status") or {}
            if status.get("phase") in TERMINAL_PHASES:
                return
            for pod in self._pods(namespace, meta["uid"]):
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    self._delete_pod(namespace, pod["metadata"]["name"])
            message = "cancelled: the VectorizeJob was deleted"
            now = format_time(self.clock())
            body = {
                "status": {
                    "phase": "Cancelled",
                    "reason": "Deleted",
                    "message": message,
                    "completionTime": now,
                }
            }
            try:
                self.jobs.patch_status(namespace, name, body)
            except ApiException as exc:
                if exc.status != 404:
                    raise
            self.post_event(job, Event("Normal", "Deleted", message))
            self.metrics.observe((namespace, name), "Cancelled")

    # ------------------------------------------------------------------ events

    def post_event(self, job: Mapping[str, Any], event: Event) -> None:
        """A core/v1 Event about the job (failures are logged, never raised)."""
        meta = job["metadata"]
        now = format_time(self.clock())
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": API_VERSION,
                "kind": KIND,
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": event.type,
            "reason": event.reason,
            "message": event.message[:1024],
            "source": {"component": MANAGER},
            "reportingComponent": MANAGER,
            "reportingInstance": self._instance,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        try:
            self.core.create_namespaced_event(meta["namespace"], body)
            self.metrics.count("events_posted")
        except ApiException as exc:
            logger.warning("could not post event %s: %s %s", event.reason, exc.status, exc.reason)
