"""OpenTelemetry setup. Spans are always created (so trace ids reach logs and job rows);
they are exported over OTLP only when an endpoint is configured."""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping

from opentelemetry import context, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

__all__ = [
    "configure_tracing",
    "current_trace_id",
    "extract_context",
    "inject_context",
    "traceparent",
]

_provider: TracerProvider | None = None


def configure_tracing(
    service: str,
    otlp_endpoint: str | None = None,
    extra_processors: tuple[SpanProcessor, ...] = (),
) -> TracerProvider:
    """Install a tracer provider once per process; later calls return the same provider."""
    global _provider
    if _provider is not None:
        for proc in extra_processors:
            _provider.add_span_processor(proc)
        return _provider
    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if otlp_endpoint:
        # Imported lazily: the exporter pulls in grpc channels we do not want otherwise.
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
    for proc in extra_processors:
        provider.add_span_processor(proc)
    trace.set_tracer_provider(provider)
    _provider = provider
    return provider


def inject_context(carrier: MutableMapping[str, str] | None = None) -> dict[str, str]:
    """W3C trace-context headers (``traceparent``) for the current span."""
    out: dict[str, str] = dict(carrier or {})
    propagate.inject(out)
    return out


def extract_context(carrier: Mapping[str, str]) -> context.Context:
    """A context whose parent is the span named by ``traceparent`` in ``carrier``."""
    return propagate.extract(dict(carrier))


def traceparent() -> str | None:
    """The current span as a ``traceparent`` value (for CR annotations and pod env)."""
    return inject_context().get("traceparent")


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return f"{ctx.trace_id:032x}" if ctx.is_valid else None
