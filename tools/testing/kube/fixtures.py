"""Kubernetes API fixtures (kmock with the project's protocol fixes); see kmock_ext.py.

``kube_api``: a :class:`KubeCluster` -- the API server on a free 127.0.0.1 port (running
in its own thread, so synchronous clients and in-process operators can use it), with the
core resources and the VectorizeJob CRD discoverable, a kubeconfig file and a ready
``kubernetes.client.ApiClient``. Stopped after the test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import threading
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import kmock
import kubernetes
import pytest
import yaml

from tools.testing.kube.kmock_ext import CORE_RESOURCES, KubeApi

__all__ = ["CRD_PATH", "KubeCluster", "kube_api", "start_kube_api"]

CRD_PATH = (
    Path(__file__).resolve().parents[3] / "charts" / "supersvg" / "crds" / "vectorizejobs.yaml"
)
T = TypeVar("T")


@dataclasses.dataclass
class KubeCluster:
    """A running mock API server and what a test needs to talk to it."""

    api: KubeApi
    url: str
    kubeconfig: Path
    api_client: kubernetes.client.ApiClient
    loop: asyncio.AbstractEventLoop
    _stop: Callable[[], None]

    def call(self, fn: Callable[[], Coroutine[Any, Any, T]], timeout: float = 10) -> T:
        """Run a coroutine on the server's loop (e.g. to touch its state) and return its result."""
        fut = asyncio.run_coroutine_threadsafe(fn(), self.loop)
        return fut.result(timeout)

    def compact(self) -> None:
        """Drop the watch history: watches from older resourceVersions get 410 Gone."""

        async def _do() -> None:
            async with self.api._lock:
                self.api.compact()

        self.call(_do)

    def drop_watches(self) -> None:
        """End every open watch stream; clients must resume from their resourceVersion."""

        async def _do() -> None:
            self.api.drop_watches()

        self.call(_do)

    def new_client(self) -> kubernetes.client.ApiClient:
        """A fresh ApiClient (each thread that streams should have its own)."""
        return kubernetes.config.new_client_from_config(config_file=str(self.kubeconfig))

    def stop(self) -> None:
        self.api_client.close()
        self._stop()


def _write_kubeconfig(path: Path, url: str) -> None:
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "kmock", "cluster": {"server": url}}],
        "users": [{"name": "tester", "user": {"token": "test-token"}}],
        "contexts": [
            {
                "name": "kmock",
                "context": {"cluster": "kmock", "user": "tester", "namespace": "default"},
            }
        ],
        "current-context": "kmock",
    }
    path.write_text(yaml.safe_dump(config))


def start_kube_api(workdir: Path, *, with_crd: bool = True) -> KubeCluster:
    """Start the API server in a background thread; the caller must call ``.stop()``."""
    api = KubeApi()
    api.declare(*CORE_RESOURCES)
    if with_crd:
        api.declare_crd(yaml.safe_load(CRD_PATH.read_text()))
    ready: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, int, asyncio.Event]] = (
        concurrent.futures.Future()
    )

    async def serve() -> None:
        stop = asyncio.Event()
        try:
            async with api, kmock.Server(api) as server:
                ready.set_result((asyncio.get_running_loop(), server.port, stop))
                await stop.wait()
                api.close_watches()
                await asyncio.sleep(0)
        except BaseException as exc:
            if not ready.done():
                ready.set_exception(exc)
            raise

    thread = threading.Thread(target=asyncio.run, args=(serve(),), name="kube-api", daemon=True)
    thread.start()
    loop, port, stop_event = ready.result(timeout=30)

    def stop() -> None:
        loop.call_soon_threadsafe(stop_event.set)
        thread.join(timeout=30)

    url = f"http://127.0.0.1:{port}"
    kubeconfig = workdir / "kubeconfig.yaml"
    _write_kubeconfig(kubeconfig, url)
    api_client = kubernetes.config.new_client_from_config(config_file=str(kubeconfig))
    cluster = KubeCluster(api, url, kubeconfig, api_client, loop, stop)
    core = kubernetes.client.CoreV1Api(api_client)
    core.create_namespace({"metadata": {"name": "default"}})
    return cluster


@pytest.fixture
def kube_api(tmp_path: Path) -> Iterator[KubeCluster]:
    """The mock Kubernetes API on loopback with the VectorizeJob CRD; stopped after the test."""
    cluster = start_kube_api(tmp_path, with_crd=CRD_PATH.exists())
    try:
        yield cluster
    finally:
        cluster.stop()
