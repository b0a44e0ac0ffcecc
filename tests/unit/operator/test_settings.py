"""Operator settings from the environment."""

from __future__ import annotations

import pytest

from supersvg.common.settings import ConfigurationError
from supersvg.operator.settings import OperatorSettings


def test_worker_image_is_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SUPERSVG_OPERATOR_WORKER_IMAGE", raising=False)
    with pytest.raises(ConfigurationError, match="SUPERSVG_OPERATOR_WORKER_IMAGE"):
        OperatorSettings.from_env()


def test_values_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSVG_OPERATOR_WORKER_IMAGE", "img")
    monkeypatch.setenv("SUPERSVG_OPERATOR_NODE_SELECTOR", '{"pool": "gpu"}')
    monkeypatch.setenv("SUPERSVG_OPERATOR_BACKOFF_BASE_SECONDS", "2.5")
    monkeypatch.setenv("SUPERSVG_OPERATOR_NAMESPACE", "supersvg")
    settings = OperatorSettings.from_env()
    assert settings.node_selector == {"pool": "gpu"}
    assert settings.backoff_base_seconds == 2.5
    assert settings.namespace == "supersvg"
    assert (settings.health_port, settings.metrics_port) == (8081, 9090)


def test_bad_values_name_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUPERSVG_OPERATOR_WORKER_IMAGE", "img")
    monkeypatch.setenv("SUPERSVG_OPERATOR_METRICS_PORT", "70000")
    with pytest.raises(ConfigurationError, match="SUPERSVG_OPERATOR_METRICS_PORT"):
        OperatorSettings.from_env()
