"""Prometheus metrics of the scheduler: jobs by state, queue depth, attempt durations.

Served in the Prometheus text format on ``SUPERSVG_SCHEDULER_METRICS_PORT`` (0 = off).
Job counts come from the store (the source of truth), refreshed by a loop step, so they
are right after a restart too; attempt durations and outcomes are observed in process.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server

from supersvg.scheduler.store.base import ACTIVE_STATES, TERMINAL_STATES, JobStore

__all__ = ["SchedulerMetrics"]

log = logging.getLogger(__name__)
STATES = (*ACTIVE_STATES, *TERMINAL_STATES)


class SchedulerMetrics:
    """One registry per scheduler (several can live in one test process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.jobs = Gauge(
            "supersvg_jobs", "Jobs in the store by state", ["state"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "supersvg_queue_depth", "Jobs waiting for a worker", registry=self.registry
        )
        self.running_attempts = Gauge(
            "supersvg_running_attempts",
            "Worker attempts running (from the database and the executor)",
            registry=self.registry,
        )
        self.leader = Gauge(
            "supersvg_scheduler_leader",
            "1 while this replica is the elected leader (runs dispatch and the other loops)",
            registry=self.registry,
        )
        self.capacity = Gauge(
            "supersvg_scheduler_capacity",
            "Most attempts at once (-1: no bound)",
            registry=self.registry,
        )
        self.attempt_seconds = Histogram(
            "supersvg_worker_attempt_duration_seconds",
            "Duration of worker attempts, by how they ended",
            ["outcome"],
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
            registry=self.registry,
        )
        self.callbacks = Counter(
            "supersvg_callback_deliveries",
            "Callback delivery attempts by result",
            ["result"],
            registry=self.registry,
        )
        self._server: Any = None

    async def refresh(self, store: JobStore, running: int) -> None:
        for state in STATES:
            count = await store.count_jobs((state,))
            self.jobs.labels(state=state).set(count)
            if state == "queued":
                self.queue_depth.set(count)
        self.running_attempts.set(running)

    def serve(self, host: str, port: int) -> int:
        """Start the HTTP endpoint in a thread; returns the bound port."""
        server, _thread = start_http_server(port, addr=host, registry=self.registry)
        self._server = server
        bound = int(server.server_address[1])
        log.info("metrics serving", extra={"port": bound})
        return bound

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server = None
