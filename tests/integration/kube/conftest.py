"""Fixtures for the operator tests: the real kopf operator against the mock API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.testing.kube.fixtures import KubeCluster
from tools.testing.kube.jobs import Jobs
from tools.testing.kube.operator import OperatorRunner, operator_env


@pytest.fixture
def jobs(kube_api: KubeCluster) -> Jobs:
    return Jobs(kube_api)


@pytest.fixture
def operator_runner(
    kube_api: KubeCluster, monkeypatch: pytest.MonkeyPatch
) -> Iterator[OperatorRunner]:
    """The operator, started against ``kube_api`` and stopped after the test."""
    operator_env(monkeypatch, kube_api)
    runner = OperatorRunner().start()
    try:
        yield runner
    finally:
        runner.stop()
