"""The gateway's Prometheus metrics: request latency and counts by route template."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

__all__ = ["HttpMetrics"]


class HttpMetrics:
    """One registry per application (tests run several in one process)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.latency = Histogram(
            "supersvg_http_request_duration_seconds",
            "Gateway request latency by route",
            ["method", "route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30),
            registry=self.registry,
        )
        self.requests = Counter(
            "supersvg_http_requests",
            "Gateway requests by route and status",
            ["method", "route", "status"],
            registry=self.registry,
        )

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.latency.labels(method=method, route=route).observe(seconds)
        self.requests.labels(method=method, route=route, status=str(status)).inc()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
