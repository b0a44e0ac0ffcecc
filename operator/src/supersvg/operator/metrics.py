"""Prometheus metrics of the operator (text exposition format, served over HTTP)."""

from __future__ import annotations

import http.server
import threading
from collections import Counter
from typing import Any

from supersvg.operator.model import PHASES

__all__ = ["Metrics", "MetricsServer"]


class Metrics:
    """Jobs by phase (from the last reconcile of each job) and a few counters."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._phases: dict[tuple[str, str], str] = {}
        self.counters: Counter[str] = Counter()

    def observe(self, key: tuple[str, str], phase: str | None) -> None:
        with self._lock:
            if phase:
                self._phases[key] = phase

    def forget(self, key: tuple[str, str]) -> None:
        with self._lock:
            self._phases.pop(key, None)

    def count(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self.counters[name] += amount

    def jobs_by_phase(self) -> dict[str, int]:
        with self._lock:
            counts = Counter(self._phases.values())
        return {phase: counts.get(phase, 0) for phase in PHASES}

    def render(self) -> str:
        lines = [
            "# HELP supersvg_vectorizejobs VectorizeJobs known to the operator, by phase.",
            "# TYPE supersvg_vectorizejobs gauge",
        ]
        for phase, n in self.jobs_by_phase().items():
            lines.append(f'supersvg_vectorizejobs{{phase="{phase}"}} {n}')
        helps = {
            "pods_created": "Worker pods created.",
            "reconcile_errors": "Reconciles that failed on an API error (retried).",
            "events_posted": "Kubernetes Events posted.",
            "jobs_deleted_ttl": "Finished VectorizeJobs deleted after their TTL.",
        }
        with self._lock:
            counters = dict(self.counters)
        for name, text in helps.items():
            metric = f"supersvg_operator_{name}_total"
            lines += [f"# HELP {metric} {text}", f"# TYPE {metric} counter"]
            lines.append(f"{metric} {counters.get(name, 0)}")
        return "\n".join(lines) + "\n"


class MetricsServer:
    """``GET /metrics`` on a port of its own, in a daemon thread."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        registry = metrics

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path.split("?")[0] != "/metrics":
                    self.send_error(404)
                    return
                body = registry.render().encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # scrapes are not worth a log line each

        self._server = http.server.ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="metrics", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
