"""Run the real kopf operator in-process against the mock API, and drive pods as a kubelet.

There is no kubelet behind the mock API: tests move pods through their phases with
:class:`PodDriver` (status writes through the real client, as a kubelet would make).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import kopf
import kubernetes
import pytest

from supersvg.operator.settings import OperatorSettings
from tools.testing.kube.fixtures import KubeCluster

__all__ = ["TEST_ENV", "OperatorRunner", "PodDriver", "eventually", "operator_env"]

T = TypeVar("T")

# Fast settings for tests: short backoffs and watch timeouts, no metrics port clash.
TEST_ENV = {
    "SUPERSVG_OPERATOR_WORKER_IMAGE": "ghcr.io/supersvg/vectorizer:test",
    "SUPERSVG_OPERATOR_STORAGE_SECRET": "supersvg-storage",
    "SUPERSVG_OPERATOR_STORAGE_CONFIGMAP": "supersvg-storage",
    "SUPERSVG_OPERATOR_BACKOFF_BASE_SECONDS": "0.5",
    "SUPERSVG_OPERATOR_BACKOFF_MAX_SECONDS": "1",
    "SUPERSVG_OPERATOR_ERROR_RETRY_SECONDS": "0.5",
    "SUPERSVG_OPERATOR_METRICS_PORT": "0",
    "SUPERSVG_OPERATOR_WATCH_SERVER_TIMEOUT": "30",
    "SUPERSVG_OPERATOR_WATCH_CLIENT_TIMEOUT": "40",
    "SUPERSVG_LOG_FORMAT": "text",
}


def operator_env(monkeypatch: pytest.MonkeyPatch, cluster: KubeCluster, **extra: str) -> None:
    """Point the operator (kopf's login and ours) at ``cluster``, with test settings."""
    monkeypatch.setenv("KUBECONFIG", str(cluster.kubeconfig))
    # kubernetes.config reads $KUBECONFIG once, at import; kopf's login uses that default.
    monkeypatch.setattr(
        kubernetes.config.kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", str(cluster.kubeconfig)
    )
    for key, value in {**TEST_ENV, **extra}.items():
        monkeypatch.setenv(key, value)


def eventually(
    fn: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.05, what: str = ""
) -> T:
    """Poll ``fn`` until it returns something truthy; fail with ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = fn()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what or fn}: last={last!r}")


class OperatorRunner:
    """The operator's kopf registry running in a thread, as ``kopf run`` would run it."""

    def __init__(self) -> None:
        import supersvg.operator.handlers  # noqa: F401 - registers the handlers

        self.memo = kopf.Memo()
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    @property
    def runtime(self) -> Any:
        return self.memo["runtime"]

    def start(self) -> OperatorRunner:
        # As supersvg-operator does: settings read once from the environment, passed down.
        self.memo["config"] = OperatorSettings.from_env()

        def run() -> None:
            try:
                asyncio.run(
                    kopf.operator(
                        registry=kopf.get_default_registry(),
                        settings=kopf.OperatorSettings(),
                        memo=self.memo,
                        standalone=True,
                        clusterwide=True,
                        stop_flag=self._stop,
                        ready_flag=self._ready,
                    )
                )
            except BaseException as exc:  # surfaced by start()/stop()
                self._error = exc

        self._thread = threading.Thread(target=run, name="operator", daemon=True)
        self._thread.start()
        try:
            eventually(
                lambda: self._ready.is_set() or self._error is not None,
                timeout=30,
                what="the operator to start",
            )
            if self._error is not None:
                raise RuntimeError("the operator failed to start") from self._error
            eventually(lambda: "runtime" in self.memo, timeout=10, what="the startup handler")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        self._stop.set()
        self._thread.join(timeout=30)
        assert not self._thread.is_alive(), "the operator did not stop"
        self._thread = None

    @contextlib.contextmanager
    def running(self) -> Iterator[OperatorRunner]:
        self.start()
        try:
            yield self
        finally:
            self.stop()


def _now() -> str:
    return dt.datetime.now(tz=dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _container(ready: bool, state: dict[str, Any]) -> dict[str, Any]:
    # Every field the client's V1ContainerStatus model requires.
    return {
        "name": "worker",
        "image": "ghcr.io/supersvg/vectorizer:test",
        "imageID": "sha256:0",
        "ready": ready,
        "restartCount": 0,
        "state": state,
    }


class PodDriver:
    """Plays the kubelet: moves a pod through Pending -> Running -> Succeeded/Failed."""

    def __init__(self, cluster: KubeCluster, namespace: str = "default") -> None:
        self.core = kubernetes.client.CoreV1Api(cluster.api_client)
        self.namespace = namespace

    def _status(self, name: str, status: dict[str, Any]) -> None:
        self.core.patch_namespaced_pod_status(name, self.namespace, {"status": status})

    def run(self, name: str) -> None:
        self._status(
            name,
            {
                "phase": "Running",
                "startTime": _now(),
                "containerStatuses": [_container(True, {"running": {"startedAt": _now()}})],
            },
        )

    def exit(self, name: str, code: int, message: str = "") -> None:
        terminated: dict[str, Any] = {
            "exitCode": code,
            "reason": "Completed" if code == 0 else "Error",
            "finishedAt": _now(),
        }
        if message:
            terminated["message"] = message
        self._status(
            name,
            {
                "phase": "Succeeded" if code == 0 else "Failed",
                "containerStatuses": [_container(False, {"terminated": terminated})],
            },
        )
