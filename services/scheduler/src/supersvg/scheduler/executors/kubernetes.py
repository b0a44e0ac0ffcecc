"""Runs worker attempts as VectorizeJob resources on Kubernetes (the operator runs the pods).

One VectorizeJob per attempt, named ``<job id>-a<attempt>`` (lower-cased, ``_`` -> ``-``),
with ``backoffLimit: 0``: the scheduler decides about retries, the operator runs exactly one
pod. The per-job worker token goes into a Secret owned by the VectorizeJob; the trace
context into the ``supersvg.io/traceparent`` annotation (the pod's ``TRACEPARENT``).

A background thread lists and then watches this scheduler's VectorizeJobs (label
``app.kubernetes.io/managed-by=supersvg-scheduler``), resuming from the last
resourceVersion after a dropped watch and relisting on 410 Gone; when a tracked attempt's
VectorizeJob reaches a terminal phase (or disappears), the outcome is reported once:
Succeeded -> exit 0, Failed -> the worker's exit code (``None`` for deadline and other
operator-side failures), Cancelled -> 3. Cancel patches ``spec.cancel``; after another
grace period the VectorizeJob is deleted (its pod goes with it).

Configuration (environment, prefix ``SUPERSVG_SCHEDULER_K8S_``): ``NAMESPACE``,
``TTL_SECONDS_AFTER_FINISHED``, ``ACTIVE_DEADLINE_SECONDS``, ``WATCH_TIMEOUT_SECONDS``,
``RESOURCES``, ``TOLERATIONS`` (JSON), ``PRIORITY_CLASS_NAME``, ``PRIORITY_CLASSES`` and the
admission settings of :mod:`.cluster` (capacity, Kueue); credentials in-cluster, else
``$KUBECONFIG``. With a capacity, the GPU count is read at start and then periodically.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Mapping
from typing import Any

import kubernetes
from kubernetes.client.rest import ApiException
from kubernetes.watch.watch import iter_resp_lines

from supersvg.api.jobs import ExitCode
from supersvg.api.jobs.vectorizejob import (
    API_VERSION,
    KIND,
    LABEL_ATTEMPT,
    LABEL_MANAGED_BY,
    SCHEDULER,
    TERMINAL_PHASES,
    attempt_manifest,
    vectorizejob_name,
)
from supersvg.common.backoff import Backoff
from supersvg.common.kube import VectorizeJobs, make_api_client, own_namespace
from supersvg.common.storage import StorageSettings
from supersvg.scheduler.executors.base import ExecutionOutcome, Executor, WorkSpec
from supersvg.scheduler.executors.cluster import GpuNodes, KubernetesExecutorSettings

__all__ = ["KubernetesExecutor", "KubernetesExecutorSettings", "vectorizejob_name"]

log = logging.getLogger(__name__)

SELECTOR = f"{LABEL_MANAGED_BY}={SCHEDULER}"
# A dropped watch resumes after 0.2 s, doubling to 10 s while the API stays away.
_WATCH_BACKOFF = Backoff(0.2, 10.0)
#: The attempt label's name before it was unified with the operator's; VectorizeJobs
#: created under it are still adopted after an upgrade.
_LEGACY_LABEL_ATTEMPT = "supersvg.io/job-attempt"
Key = tuple[str, int]  # (job id, attempt)


class _Gone(Exception):
    """The watch's resourceVersion is too old (410): list again."""


def _key_of(obj: Mapping[str, Any]) -> Key | None:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    try:
        attempt = labels.get(LABEL_ATTEMPT) or labels[_LEGACY_LABEL_ATTEMPT]
        return (str((obj.get("spec") or {})["jobId"]), int(attempt))
    except (KeyError, TypeError, ValueError):
        return None


def outcome_of(obj: Mapping[str, Any], key: Key) -> ExecutionOutcome | None:
    """The attempt's outcome if its VectorizeJob is finished, else None."""
    status = obj.get("status") or {}
    phase = status.get("phase")
    if phase not in TERMINAL_PHASES:
        return None
    message = f"VectorizeJob {phase}: {status.get('reason', '')} {status.get('message', '')}"
    message = message.strip()
    if phase == "Succeeded":
        code: int | None = 0
    elif phase == "Cancelled":
        code = ExitCode.CANCELLED
    else:
        code = status.get("exitCode") if status.get("reason") != "DeadlineExceeded" else None
    return ExecutionOutcome(key[0], key[1], code, message[:500])


class KubernetesExecutor(Executor):
    """One VectorizeJob per attempt; outcomes from a watch on VectorizeJobs."""

    name = "kubernetes"

    def __init__(
        self,
        settings: KubernetesExecutorSettings,
        api_client: kubernetes.client.ApiClient | None = None,
        device: str = "auto",
    ) -> None:
        super().__init__()
        self.settings = settings
        self.namespace = settings.namespace or own_namespace()
        self.device = device
        self._api_client = api_client
        self._tracked: dict[Key, str] = {}  # attempts whose outcome is still owed
        self._created: dict[Key, float] = {}  # when each tracked VectorizeJob surely existed
        self._last_phase: dict[Key, str] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._response: Any = None  # the open watch response (closed to stop at once)
        self._list_started = 0.0
        self._tasks: set[asyncio.Future[Any]] = set()
        self._gpu_attempts: int | None = None  # from the nodes, when gpu_capacity is on
        self.resumes = 0  # watches resumed from a resourceVersion (for tests and logs)
        self.relists = 0  # full relists after 410 Gone

    @classmethod
    def from_settings(cls, settings: Any, storage: StorageSettings) -> KubernetesExecutor:
        del storage  # worker pods get the object store from the operator's pod template
        return cls(KubernetesExecutorSettings.from_env(), device=settings.worker_device)

    @property
    def capacity(self) -> int | None:
        bounds = [self.settings.max_running_attempts or None]
        if self.settings.gpu_capacity and self.settings.gpus_per_attempt():
            # Until the nodes were read once, nothing is admitted.
            bounds.append(self._gpu_attempts or 0)
        known = [b for b in bounds if b is not None]
        return min(known) if known else None

    def live_attempts(self) -> set[str]:
        return {job_id for job_id, _ in self._tracked}

    def refresh_capacity(self) -> None:
        """Read the GPU nodes again (blocking; the watch thread calls it periodically)."""
        try:
            value = GpuNodes(self.api_client, self.settings).attempts()
        except Exception as exc:  # keep the last value; the API may be back next time
            log.warning("could not read the GPU nodes: %s", exc)
            return
        if value != self._gpu_attempts:
            log.info("capacity from GPU nodes", extra={"attempts": value})
        self._gpu_attempts = value

    # ------------------------------------------------------------------ clients

    @property
    def api_client(self) -> kubernetes.client.ApiClient:
        if self._api_client is None:
            self._api_client = make_api_client()
        return self._api_client

    def _jobs(self) -> VectorizeJobs:
        return VectorizeJobs(self.api_client)

    def _core(self) -> kubernetes.client.CoreV1Api:
        return kubernetes.client.CoreV1Api(self.api_client)

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        await asyncio.to_thread(lambda: self.api_client)  # reads the kubeconfig
        self._thread = threading.Thread(target=self._watch_forever, name="vj-watch", daemon=True)
        self._thread.start()
        if self.settings.gpu_capacity:
            await asyncio.to_thread(self.refresh_capacity)
            threading.Thread(target=self._refresh_forever, name="gpu-capacity", daemon=True).start()

    def _refresh_forever(self) -> None:
        while not self._stop.wait(self.settings.capacity_refresh_seconds):
            self.refresh_capacity()

    async def stop(self) -> None:
        # VectorizeJobs keep running: the next scheduler adopts them.
        self._stop.set()
        response = self._response
        if response is not None:
            # Shut the socket down so the watch thread's blocked read ends at once.
            sock = getattr(getattr(response, "connection", None), "sock", None)
            with contextlib.suppress(Exception):
                if sock is not None:
                    sock.shutdown(socket.SHUT_RDWR)
                response.close()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10.0)
        if self._api_client is not None:
            self._api_client.close()

    # ------------------------------------------------------------------ attempts

    def _body(self, spec: WorkSpec, name: str, secret: str) -> dict[str, Any]:
        cluster: dict[str, Any] = {
            "ttlSecondsAfterFinished": self.settings.ttl_seconds_after_finished,
        }
        if self.settings.active_deadline_seconds:
            cluster["activeDeadlineSeconds"] = self.settings.active_deadline_seconds
        if self.settings.resources:
            cluster["resources"] = {k: dict(v) for k, v in self.settings.resources.items()}
        if self.settings.tolerations:
            cluster["tolerations"] = [dict(t) for t in self.settings.tolerations]
        return attempt_manifest(
            name=name,
            namespace=self.namespace,
            job_id=spec.job_id,
            tenant_id=spec.tenant_id,
            attempt=spec.attempt,
            priority=spec.priority,
            input_key=spec.input_key,
            output_prefix=spec.output_prefix,
            config=spec.config,
            device=spec.extra_env.get("SUPERSVG_DEVICE", self.device),
            token_secret=secret,
            scheduler_addr=spec.scheduler_addr,
            traceparent=spec.traceparent,
            model=spec.model,
            priority_class=self.settings.priority_class(spec.priority),
            queue_name=self.settings.kueue_queue_name,
            extra_spec=cluster,
        )

    def _create(self, spec: WorkSpec) -> None:
        name = vectorizejob_name(spec.job_id, spec.attempt)
        secret = f"{name}-token"
        core, jobs = self._core(), self._jobs()
        secret_body = {
            "metadata": {"name": secret, "labels": {LABEL_MANAGED_BY: SCHEDULER}},
            "type": "Opaque",
            "stringData": {"token": spec.worker_token},
        }
        try:
            core.create_namespaced_secret(self.namespace, secret_body)
        except ApiException as exc:
            if exc.status != 409:  # 409: a launch that was interrupted made it already
                raise
        try:
            job = jobs.create(self.namespace, self._body(spec, name, secret))
        except ApiException as exc:
            if exc.status != 409:
                raise
            found = jobs.get(self.namespace, name)
            if found is None:  # deleted again since the 409: let the launch fail and retry
                raise
            job = found
        # The Secret goes away with its VectorizeJob (garbage collection by owner).
        owner = {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "name": name,
            "uid": job["metadata"]["uid"],
            "blockOwnerDeletion": False,
        }
        core.patch_namespaced_secret(
            secret, self.namespace, {"metadata": {"ownerReferences": [owner]}}
        )

    async def launch(self, spec: WorkSpec) -> None:
        key = (spec.job_id, spec.attempt)
        self._tracked[key] = vectorizejob_name(spec.job_id, spec.attempt)
        try:
            await asyncio.to_thread(self._create, spec)
        except Exception:
            self._tracked.pop(key, None)
            raise
        self._created[key] = time.monotonic()
        log.info(
            "vectorizejob created",
            extra={
                "job_id": spec.job_id,
                "attempt": spec.attempt,
                "vectorizejob": self._tracked.get(key),
            },
        )

    def _get(self, name: str) -> dict[str, Any] | None:
        return self._jobs().get(self.namespace, name)

    async def adopt(self, spec: WorkSpec) -> bool:
        key = (spec.job_id, spec.attempt)
        name = vectorizejob_name(spec.job_id, spec.attempt)
        obj = await asyncio.to_thread(self._get, name)
        if obj is None:
            return False
        self._tracked[key] = name
        self._created[key] = time.monotonic()
        outcome = outcome_of(obj, key)
        if outcome is not None:
            # It finished while no scheduler watched: report once the scheduler tracks it.
            asyncio.get_running_loop().call_soon(self._spawn, self._deliver(outcome))
        return True

    async def cancel(self, job_id: str, attempt: int, grace_s: float) -> None:
        key = (job_id, attempt)
        name = vectorizejob_name(job_id, attempt)
        # First the worker's own chance (told through ReportProgressResponse), then the
        # operator stops the pod (SIGTERM), then the VectorizeJob and its pod are deleted.
        for step in ("wait", "cancel", "delete"):
            if step == "cancel":
                await asyncio.to_thread(self._patch_cancel, name)
            elif step == "delete":
                await asyncio.to_thread(self._delete, name)
            waited = 0.0
            while key in self._tracked and waited < max(grace_s, 0.05):
                await asyncio.sleep(0.05)
                waited += 0.05
            if key not in self._tracked:
                return

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    def _patch_cancel(self, name: str) -> None:
        with contextlib.suppress(ApiException):
            self._jobs().patch(self.namespace, name, {"spec": {"cancel": True}})

    def _delete(self, name: str) -> None:
        with contextlib.suppress(ApiException):
            self._jobs().delete(self.namespace, name)

    # ------------------------------------------------------------------ outcomes

    async def _deliver(self, outcome: ExecutionOutcome) -> None:
        key = (outcome.job_id, outcome.attempt)
        if self._tracked.pop(key, None) is None:
            return  # reported already (or not ours to report)
        self._last_phase.pop(key, None)
        self._created.pop(key, None)
        log.info(
            "attempt finished",
            extra={"job_id": key[0], "attempt": key[1], "exit_code": outcome.exit_code},
        )
        await self.report(outcome)

    async def _on_object(self, event: str, obj: Mapping[str, Any]) -> None:
        key = _key_of(obj)
        if key is None or key not in self._tracked:
            return
        status = obj.get("status") or {}
        phase = status.get("phase")
        outcome = outcome_of(obj, key)
        if phase and self._last_phase.get(key) != phase:
            self._last_phase[key] = phase
            log.info(
                "attempt %s",
                phase.lower(),
                extra={"job_id": key[0], "attempt": key[1], "phase": phase},
            )
            if outcome is None:  # terminal phases arrive as the outcome instead
                detail = " ".join(str(status.get(k) or "") for k in ("reason", "message"))
                await self.report_phase(key[0], key[1], phase, detail.strip())
        if outcome is None and event == "DELETED":
            outcome = ExecutionOutcome(key[0], key[1], None, "the VectorizeJob was deleted")
        if outcome is not None:
            await self._deliver(outcome)

    def _run_on_loop(self, coro: Any) -> None:
        """From the watch thread: run on the scheduler's loop and wait (keeps events in order)."""
        assert self._loop is not None
        fut = asyncio.run_coroutine_threadsafe(coro, self._loop)
        with contextlib.suppress(
            concurrent.futures.TimeoutError, concurrent.futures.CancelledError
        ):
            fut.result(timeout=30)

    def _dispatch(self, event: str, obj: Mapping[str, Any]) -> None:
        self._run_on_loop(self._on_object(event, obj))

    def _watch_forever(self) -> None:
        jobs = self._jobs()
        rv: str | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                if rv is None:
                    self._list_started = time.monotonic()
                    listed = jobs.list(self.namespace, label_selector=SELECTOR)
                    rv = str(listed["metadata"]["resourceVersion"])
                    self._relisted(listed.get("items", []))
                else:
                    self.resumes += 1
                rv = self._stream(jobs, rv)
                failures = 0
            except _Gone:
                log.info("vectorizejob watch expired (410 Gone); relisting")
                rv = None
                self.relists += 1
            except Exception as exc:  # dropped connection, API errors: resume from rv
                if self._stop.is_set():
                    break
                log.warning("vectorizejob watch interrupted: %s", exc)
                failures += 1
                self._stop.wait(_WATCH_BACKOFF.delay(failures))

    def _stream(self, jobs: VectorizeJobs, rv: str) -> str:
        """One watch request from ``rv``; returns the last resourceVersion seen."""
        resp = jobs.list(
            self.namespace,
            label_selector=SELECTOR,
            watch=True,
            allow_watch_bookmarks=True,
            resource_version=rv,
            timeout_seconds=self.settings.watch_timeout_seconds,
            _preload_content=False,
            _request_timeout=self.settings.watch_timeout_seconds + 30,
        )
        self._response = resp
        try:
            for line in iter_resp_lines(resp):
                if self._stop.is_set():
                    break
                event = json.loads(line)
                obj = event.get("object") or {}
                if event.get("type") == "ERROR":
                    if obj.get("code") == 410:
                        raise _Gone()
                    raise RuntimeError(f"watch error: {obj.get('message')}")
                rv = str((obj.get("metadata") or {}).get("resourceVersion") or rv)
                if event.get("type") != "BOOKMARK":
                    self._dispatch(str(event.get("type")), obj)
        finally:
            self._response = None
            resp.release_conn()
        return rv

    def _relisted(self, items: list[dict[str, Any]]) -> None:
        """After a (re)list: finished attempts report; tracked ones that vanished are lost."""
        seen = {key for key in map(_key_of, items) if key is not None}
        for obj in items:
            self._dispatch("SYNC", obj)
        for key, since in list(self._created.items()):
            # Only attempts that surely existed before the list began can be missing from it.
            if key not in seen and since < self._list_started:
                lost = ExecutionOutcome(key[0], key[1], None, "the VectorizeJob disappeared")
                self._run_on_loop(self._deliver(lost))
