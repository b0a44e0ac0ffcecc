"""A minimal kubelet for the mock API: runs worker pods as local processes.

It watches pods managed by the operator, resolves their environment the way a kubelet
does (``value``, ``valueFrom.secretKeyRef``/``configMapKeyRef``, ``envFrom`` Secrets and
ConfigMaps, read from the API), runs the container's command (``supersvg-worker`` is this
interpreter's worker module), reports Running, and on exit writes the terminated state
with the exit code (the log tail as message on failure, as ``FallbackToLogsOnError``).
A deleted pod's process gets SIGTERM, then SIGKILL after the grace period.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import kubernetes
from kubernetes.client.rest import ApiException

from tools.testing.kube.fixtures import KubeCluster

__all__ = ["Kubelet"]

COMMANDS = {"supersvg-worker": [sys.executable, "-m", "supersvg.worker"]}


def _now() -> str:
    return dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Kubelet:
    """Runs pods labelled ``app.kubernetes.io/managed-by=supersvg-operator``."""

    def __init__(
        self,
        cluster: KubeCluster,
        workdir: Path,
        namespace: str = "default",
        extra_env: dict[str, str] | None = None,
        grace_s: float = 5.0,
    ) -> None:
        self.client = cluster.new_client()
        self.core = kubernetes.client.CoreV1Api(self.client)
        self.namespace = namespace
        self.workdir = workdir
        self.extra_env = extra_env or {}
        self.grace_s = grace_s
        self.started: list[str] = []  # pod names, in start order
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> Kubelet:
        thread = threading.Thread(target=self._watch, name="kubelet", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
        for thread in self._threads:
            thread.join(timeout=15)
        self.client.close()

    def log(self, pod: str) -> str:
        path = self.workdir / f"{pod}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # ------------------------------------------------------------------ pods

    def _watch(self) -> None:
        selector = "app.kubernetes.io/managed-by=supersvg-operator"
        rv: str | None = None
        while not self._stop.is_set():
            try:
                if rv is None:
                    listed = self.core.list_namespaced_pod(self.namespace, label_selector=selector)
                    rv = listed.metadata.resource_version
                    for pod in listed.items:
                        self._on_pod("ADDED", pod)
                stream = kubernetes.watch.Watch().stream(
                    self.core.list_namespaced_pod,
                    self.namespace,
                    label_selector=selector,
                    resource_version=rv,
                    timeout_seconds=2,
                )
                for event in stream:
                    rv = event["object"].metadata.resource_version
                    self._on_pod(event["type"], event["object"])
                    if self._stop.is_set():
                        break
            except ApiException as exc:
                if exc.status == 410:
                    rv = None
                elif not self._stop.is_set():
                    self._stop.wait(0.2)
            except Exception:  # the API server went away: try again
                if not self._stop.is_set():
                    self._stop.wait(0.2)

    def _on_pod(self, kind: str, pod: Any) -> None:
        name = pod.metadata.name
        with self._lock:
            running = name in self._procs
            known = name in self.started
        if kind == "DELETED" or pod.metadata.deletion_timestamp:
            if running:
                threading.Thread(target=self._terminate, args=(name,), daemon=True).start()
            return
        if known or (pod.status and pod.status.phase in ("Succeeded", "Failed")):
            return
        with self._lock:
            self.started.append(name)
        thread = threading.Thread(target=self._run, args=(pod,), name=f"pod-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def _terminate(self, name: str) -> None:
        with self._lock:
            proc = self._procs.get(name)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=self.grace_s)
        except subprocess.TimeoutExpired:
            proc.kill()

    def _resolve_env(self, container: Any) -> dict[str, str]:
        env: dict[str, str] = {}
        ns = self.namespace
        for source in container.env_from or []:
            if source.config_map_ref is not None:
                cm = self.core.read_namespaced_config_map(source.config_map_ref.name, ns)
                env.update(cm.data or {})
            if source.secret_ref is not None:
                secret = self.core.read_namespaced_secret(source.secret_ref.name, ns)
                data = secret.data or {}
                env.update({k: base64.b64decode(v).decode() for k, v in data.items()})
        for var in container.env or []:
            if var.value is not None:
                env[var.name] = var.value
            elif var.value_from is not None and var.value_from.secret_key_ref is not None:
                ref = var.value_from.secret_key_ref
                secret = self.core.read_namespaced_secret(ref.name, self.namespace)
                env[var.name] = base64.b64decode((secret.data or {})[ref.key]).decode()
            elif var.value_from is not None and var.value_from.config_map_key_ref is not None:
                ref = var.value_from.config_map_key_ref
                cm = self.core.read_namespaced_config_map(ref.name, self.namespace)
                env[var.name] = (cm.data or {})[ref.key]
        return env

    def _status(self, name: str, status: dict[str, Any]) -> None:
        with contextlib.suppress(ApiException):  # the pod may be gone (deleted)
            self.core.patch_namespaced_pod_status(name, self.namespace, {"status": status})

    def _container_status(self, ready: bool, state: dict[str, Any]) -> dict[str, Any]:
        return {
            "name": "worker",
            "image": "local",
            "imageID": "local",
            "ready": ready,
            "restartCount": 0,
            "state": state,
        }

    def _run(self, pod: Any) -> None:
        name = pod.metadata.name
        container = pod.spec.containers[0]
        try:
            env = self._resolve_env(container)
        except (ApiException, KeyError) as exc:
            # A kubelet keeps such a pod waiting (CreateContainerConfigError).
            self._status(name, {"phase": "Pending", "message": f"config error: {exc}"})
            return
        argv = [*COMMANDS.get(container.command[0], container.command[:1]), *container.command[1:]]
        log_path = self.workdir / f"{name}.log"
        self.workdir.mkdir(parents=True, exist_ok=True)
        # As a kubelet does: an empty termination-message file the container may write.
        termination_log = self.workdir / f"{name}.termination-log"
        termination_log.write_text("")
        env["SUPERSVG_TERMINATION_LOG"] = str(termination_log)
        with log_path.open("wb") as log:
            proc = subprocess.Popen(
                argv,
                env={"PATH": os.environ.get("PATH", ""), **env, **self.extra_env},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            with self._lock:
                self._procs[name] = proc
            started = _now()
            self._status(
                name,
                {
                    "phase": "Running",
                    "startTime": started,
                    "containerStatuses": [
                        self._container_status(True, {"running": {"startedAt": started}})
                    ],
                },
            )
            code = proc.wait()
        with self._lock:
            self._procs.pop(name, None)
        if code < 0:
            code = 128 - code  # killed by a signal: 128 + signal number, as containers report
        terminated: dict[str, Any] = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "startedAt": started,
            "finishedAt": _now(),
        }
        message = termination_log.read_text()[:4096]
        if message:
            terminated["message"] = message
        elif code != 0:  # FallbackToLogsOnError
            terminated["message"] = "\n".join(self.log(name).splitlines()[-5:])[-1024:]
        self._status(
            name,
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [self._container_status(False, {"terminated": terminated})],
            },
        )
