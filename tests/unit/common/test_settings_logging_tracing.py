"""supersvg.common: settings fail fast, one JSON log line per record with trace ids,
trace context survives a carrier round trip."""

from __future__ import annotations

import io
import json
import logging

import pytest
from opentelemetry import trace
from pydantic_settings import SettingsConfigDict

from supersvg.common.logging import JsonFormatter, configure_logging
from supersvg.common.settings import ComponentSettings, ConfigurationError
from supersvg.common.tracing import (
    configure_tracing,
    current_trace_id,
    extract_context,
    inject_context,
)


class _DemoSettings(ComponentSettings):
    model_config = SettingsConfigDict(env_prefix="SUPERSVG_DEMO_", frozen=True)

    database_url: str
    workers: int = 2


def test_settings_read_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSVG_DEMO_DATABASE_URL", "postgresql://db/x")
    monkeypatch.setenv("SUPERSVG_DEMO_WORKERS", "7")
    s = _DemoSettings.from_env()
    assert (s.database_url, s.workers) == ("postgresql://db/x", 7)


def test_settings_missing_required_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SUPERSVG_DEMO_DATABASE_URL", raising=False)
    with pytest.raises(ConfigurationError, match="SUPERSVG_DEMO_DATABASE_URL"):
        _DemoSettings.from_env()


def test_settings_invalid_value_is_rejected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSVG_DEMO_DATABASE_URL", "x")
    monkeypatch.setenv("SUPERSVG_DEMO_WORKERS", "many")
    with pytest.raises(ConfigurationError, match="SUPERSVG_DEMO_WORKERS"):
        _DemoSettings.from_env()


def test_common_variables_apply_and_the_prefixed_one_wins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUPERSVG_DEMO_DATABASE_URL", "x")
    monkeypatch.setenv("SUPERSVG_OTLP_ENDPOINT", "http://collector:4317")
    monkeypatch.setenv("SUPERSVG_LOG_LEVEL", "DEBUG")
    monkeypatch.setenv("SUPERSVG_DEMO_LOG_LEVEL", "WARNING")
    s = _DemoSettings.from_env()
    assert s.otlp_endpoint == "http://collector:4317"
    assert s.log_level == "WARNING"
    assert _DemoSettings.from_env(log_level="ERROR").log_level == "ERROR"


def _record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("supersvg.test", logging.WARNING, __file__, 1, msg, None, None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_log_line_has_the_house_fields_and_extras() -> None:
    line = JsonFormatter("gateway").format(_record("hello %s", job_id="job_1"))
    doc = json.loads(line)
    assert doc["message"] == "hello %s"
    assert doc["severity"] == "WARNING"
    assert doc["logger"] == "supersvg.test"
    assert doc["service"] == "gateway"
    assert doc["job_id"] == "job_1"
    assert doc["timestamp"].endswith("Z")
    assert "trace_id" not in doc  # no active span


def test_json_log_line_carries_the_active_trace() -> None:
    configure_tracing("test")
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("op") as span:
        doc = json.loads(JsonFormatter("svc").format(_record("inside")))
        ctx = span.get_span_context()
    assert doc["trace_id"] == f"{ctx.trace_id:032x}"
    assert doc["span_id"] == f"{ctx.span_id:016x}"


def test_configure_logging_writes_one_json_line_per_record(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    buf = io.StringIO()
    monkeypatch.setattr("sys.stderr", buf)
    configure_logging("scheduler", "INFO")
    log = logging.getLogger("supersvg.demo")
    log.info("first")
    log.debug("hidden")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("second")
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    assert [x["message"] for x in lines] == ["first", "second"]
    assert "ValueError: boom" in lines[1]["exception"]


def test_trace_context_round_trips_through_a_carrier() -> None:
    configure_tracing("test")
    tracer = trace.get_tracer("test")
    with tracer.start_as_current_span("parent"):
        parent_id = current_trace_id()
        carrier = inject_context()
    assert carrier["traceparent"].split("-")[1] == parent_id
    with tracer.start_as_current_span("child", context=extract_context(carrier)):
        assert current_trace_id() == parent_id
