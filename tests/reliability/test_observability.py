"""Observability: one trace per job across gateway, scheduler and worker (exported over
OTLP/gRPC to a receiver in this test), and the Prometheus metrics of gateway and scheduler.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2 as ts_pb
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc as ts_grpc
from prometheus_client.parser import text_string_to_metric_families

from tools.testing.reliability import Workload, record
from tools.testing.servers import free_port
from tools.testing.stack import Stack, start_stack


class _Receiver(ts_grpc.TraceServiceServicer):
    """An OTLP trace receiver: keeps (service, trace id, span id, parent id, name)."""

    def __init__(self) -> None:
        self.spans: list[dict[str, str]] = []
        self.lock = threading.Lock()

    def Export(self, request: Any, context: Any) -> Any:
        with self.lock:
            for rs in request.resource_spans:
                attrs = {a.key: a.value.string_value for a in rs.resource.attributes}
                for ss in rs.scope_spans:
                    for span in ss.spans:
                        self.spans.append(
                            {
                                "service": attrs.get("service.name", ""),
                                "trace_id": span.trace_id.hex(),
                                "span_id": span.span_id.hex(),
                                "parent_id": span.parent_span_id.hex(),
                                "name": span.name,
                            }
                        )
        return ts_pb.ExportTraceServiceResponse()


@pytest.fixture
def receiver() -> Iterator[tuple[_Receiver, int]]:
    rec = _Receiver()
    server = grpc.server(futures.ThreadPoolExecutor(4))
    ts_grpc.add_TraceServiceServicer_to_server(rec, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield rec, port
    finally:
        server.stop(0)


def _metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_one_trace_per_job_and_metrics(
    tmp_path: Path, client: httpx.Client, receiver: tuple[_Receiver, int]
) -> None:
    rec, port = receiver
    metrics_port = free_port()
    stack: Stack = start_stack(
        tmp_path / ".data",
        env={
            "SUPERSVG_OTLP_ENDPOINT": f"http://127.0.0.1:{port}",
            "OTEL_BSP_SCHEDULE_DELAY": "200",
            "SUPERSVG_SCHEDULER_METRICS_ADDR": f"127.0.0.1:{metrics_port}",
            "SUPERSVG_SCHEDULER_MAX_CONCURRENCY": "2",
        },
        tenants=("obs",),
    )
    try:
        wl = Workload(stack, "obs", client)
        wl.submit(2)
        wl.settle(120)
        trace_ids = {j: wl.final[j]["trace_id"] for j in wl.job_ids}
        assert len(set(trace_ids.values())) == 2, "one trace per job, not shared"
        wanted = {"supersvg-gateway", "supersvg-scheduler", "supersvg-worker"}
        deadline = time.monotonic() + 30
        by_trace: dict[str, list[dict[str, str]]] = {}
        while time.monotonic() < deadline:
            with rec.lock:
                by_trace = {
                    t: [s for s in rec.spans if s["trace_id"] == t] for t in trace_ids.values()
                }
            if all({s["service"] for s in spans} >= wanted for spans in by_trace.values()):
                break
            time.sleep(0.3)
        for job_id, trace_id in trace_ids.items():
            spans = by_trace[trace_id]
            services = {s["service"] for s in spans}
            assert services >= wanted, (job_id, services, [s["name"] for s in spans])
            names = {s["name"] for s in spans}
            assert "POST /api/v1/vectorize/jobs" in names, names
            assert any("SubmitJob" in n for n in names), names
            assert "scheduler.dispatch" in names and "worker.run" in names, names
            # One tree: exactly one root, every other span's parent is in the trace.
            ids = {s["span_id"] for s in spans}
            roots = [s for s in spans if s["parent_id"] in ("", "0" * 16)]
            assert len(roots) == 1 and roots[0]["service"] == "supersvg-gateway", roots
            orphans = [s for s in spans if s not in roots and s["parent_id"] not in ids]
            assert not orphans, orphans

        # Gateway metrics: request latency by route template (never by raw id).
        polls = len(wl.job_ids) + 1
        text = client.get(f"{stack.base_url}/metrics").text
        gm = _metrics(text)
        route = "/api/v1/vectorize/jobs/{job_id}"
        count = gm[
            ("supersvg_http_request_duration_seconds_count", (("method", "GET"), ("route", route)))
        ]
        assert count >= polls, count
        assert not any(job_id in text for job_id in wl.job_ids), "ids must not be labels"
        submits = gm[
            (
                "supersvg_http_requests_total",
                (("method", "POST"), ("route", "/api/v1/vectorize/jobs"), ("status", "202")),
            )
        ]
        assert submits == len(wl.job_ids)

        # Scheduler metrics: jobs by state, queue depth, attempt durations.
        deadline = time.monotonic() + 10
        sm: dict[Any, float] = {}
        while time.monotonic() < deadline:
            sm = _metrics(httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text)
            # A worker's final report completes its job; its attempt is timed when its
            # process exits, a moment later.
            done = sm.get(("supersvg_jobs", (("state", "completed"),)))
            timed = sm.get(
                ("supersvg_worker_attempt_duration_seconds_count", (("outcome", "exit_0"),))
            )
            if done == timed == len(wl.job_ids):
                break
            time.sleep(0.5)
        assert sm[("supersvg_jobs", (("state", "completed"),))] == len(wl.job_ids)
        assert sm[("supersvg_queue_depth", ())] == 0
        assert sm[("supersvg_jobs", (("state", "running"),))] == 0
        attempts = sm[("supersvg_worker_attempt_duration_seconds_count", (("outcome", "exit_0"),))]
        assert attempts == len(wl.job_ids)
        assert sm[("supersvg_worker_attempt_duration_seconds_sum", (("outcome", "exit_0"),))] > 0
        record(
            "observability",
            jobs=len(wl.job_ids),
            spans=sum(len(v) for v in by_trace.values()),
            services=sorted(wanted),
        )
    finally:
        stack.stop()
