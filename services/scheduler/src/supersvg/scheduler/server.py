"""Builds and runs the scheduler process: store, artifacts, executor, gRPC server."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from supersvg.api.v1 import scheduler_pb2_grpc as pb_grpc
from supersvg.common.grpc import create_health_server, create_server
from supersvg.common.kube import make_api_client, own_namespace
from supersvg.common.logging import configure_logging
from supersvg.common.settings import ConfigurationError
from supersvg.common.storage import StorageSettings, create_store
from supersvg.common.tracing import configure_tracing
from supersvg.scheduler.core import Scheduler
from supersvg.scheduler.executors.base import Executor
from supersvg.scheduler.executors.cluster import KubernetesExecutorSettings
from supersvg.scheduler.executors.kubernetes import KubernetesExecutor
from supersvg.scheduler.executors.local import LocalExecutor
from supersvg.scheduler.leader import AlwaysLeader, LeaderElection
from supersvg.scheduler.leader.database import AdvisoryLockElection
from supersvg.scheduler.leader.kubernetes import LeaseElection
from supersvg.scheduler.servicer import RequestIdLogFilter, SchedulerServicer
from supersvg.scheduler.settings import SchedulerSettings
from supersvg.scheduler.store import open_store

__all__ = [
    "RunningScheduler",
    "create_election",
    "create_executor",
    "serve",
    "start_scheduler",
]

log = logging.getLogger(__name__)
SERVICE_NAME = "supersvg.api.v1.SchedulerService"
_EXECUTORS: dict[str, type[Executor]] = {"local": LocalExecutor, "kubernetes": KubernetesExecutor}


def create_executor(settings: SchedulerSettings, storage: StorageSettings) -> Executor:
    """The executor ``SUPERSVG_SCHEDULER_EXECUTOR`` names, built once at start."""
    return _EXECUTORS[settings.executor].from_settings(settings, storage)


def create_election(settings: SchedulerSettings, executor: Executor) -> LeaderElection:
    """The leader election ``settings.leader_election`` names (``auto``: a Lease with the
    Kubernetes executor, an advisory lock on PostgreSQL, else none: one replica). A Lease
    lives in the Kubernetes executor's namespace and uses its API client."""
    kind = settings.leader_election
    postgres = settings.database_url.startswith(("postgresql://", "postgres://"))
    if kind == "auto":
        kind = "kubernetes" if settings.executor == "kubernetes" else "off"
        if kind == "off" and postgres:
            kind = "database"
    name, lease = settings.leader_lease_name, settings.leader_lease_seconds
    if kind == "kubernetes":
        if isinstance(executor, KubernetesExecutor):
            return LeaseElection(executor.api_client, executor.namespace, name, lease)
        # Another executor with a Lease election (tests, custom executors).
        namespace = KubernetesExecutorSettings.from_env().namespace or own_namespace()
        return LeaseElection(make_api_client(), namespace, name, lease)
    if kind == "database":
        if not postgres:
            raise ConfigurationError(
                "SUPERSVG_SCHEDULER_LEADER_ELECTION=database needs a postgresql:// DATABASE_URL"
            )
        return AdvisoryLockElection(settings.database_url, name, lease)
    return AlwaysLeader()


class RunningScheduler:
    """A started scheduler; ``port`` is the bound gRPC port."""

    def __init__(
        self,
        server: object,
        port: int,
        scheduler: Scheduler,
        health: object,
        health_server: object | None = None,
    ) -> None:
        self.server = server
        self.port = port
        self.scheduler = scheduler
        self.health = health
        self.health_server = health_server

    async def stop(self, grace: float = 2.0) -> None:
        await self.health.set_serving(False)  # type: ignore[attr-defined]
        await self.server.stop(grace)  # type: ignore[attr-defined]
        if self.health_server is not None:
            await self.health_server.stop(0)  # type: ignore[attr-defined]
        await self.scheduler.stop()
        self.scheduler.metrics.close()
        await self.scheduler.store.close()


async def start_scheduler(
    settings: SchedulerSettings,
    storage: StorageSettings,
    executor: Executor | None = None,
    election: LeaderElection | None = None,
) -> RunningScheduler:
    """Open the store (migrating it), bind the gRPC server and start the loops (at once
    with one replica; once elected with several)."""
    store = await open_store(settings.database_url)
    artifacts = create_store(storage)
    server, port, health = create_server(
        settings.listen_addr, services=[SERVICE_NAME], tls=settings.tls_files()
    )
    health_server = None
    if settings.health_listen_addr:
        health_server, _ = create_health_server(settings.health_listen_addr, health)
    executor = executor or create_executor(settings, storage)
    scheduler = Scheduler(
        settings,
        store,
        artifacts,
        executor,
        settings.worker_scheduler_addr(port),
        election=election or create_election(settings, executor),
    )
    pb_grpc.add_SchedulerServiceServicer_to_server(SchedulerServicer(scheduler), server)
    await scheduler.start()
    if settings.metrics_addr:
        host, _, mport = settings.metrics_addr.rpartition(":")
        scheduler.metrics.serve(host or "0.0.0.0", int(mport))
    await server.start()
    if health_server is not None:
        await health_server.start()
    await health.set_serving(True)
    log.info(
        "scheduler serving",
        extra={"port": port, "executor": settings.executor, "mtls": bool(settings.tls_ca_file)},
    )
    return RunningScheduler(server, port, scheduler, health, health_server)


async def serve(settings: SchedulerSettings, storage: StorageSettings) -> None:
    configure_logging("scheduler", settings.log_level, settings.log_format)
    # aiosqlite's DEBUG lines carry every statement's parameters (worker tokens among them):
    # never below INFO, whatever SUPERSVG_LOG_LEVEL says.
    quiet = logging.getLogger("aiosqlite")
    quiet.setLevel(max(logging.INFO, quiet.getEffectiveLevel()))
    for handler in logging.getLogger().handlers:
        handler.addFilter(RequestIdLogFilter())
    configure_tracing("supersvg-scheduler", settings.otlp_endpoint)
    running = await start_scheduler(settings, storage)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("scheduler stopping")
    await running.stop()
