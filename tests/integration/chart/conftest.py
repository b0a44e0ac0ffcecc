"""Fixtures for the chart tests: one mock Kubernetes API per module, prepared for Helm."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.testing import helmkit
from tools.testing.kube.fixtures import CRD_PATH, KubeCluster, start_kube_api


@pytest.fixture
def helm_cluster(tmp_path: Path) -> Iterator[KubeCluster]:
    """The project's mock API with what Helm needs (see helmkit), for one test.

    One server per test: Helm's watches that the mock API cannot serve stay open on the server
    and slow it down as they pile up, so servers are not shared between installs.
    """
    cluster = start_kube_api(tmp_path, with_crd=CRD_PATH.exists())
    try:
        helmkit.prepare_for_helm(cluster)
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def namespace(helm_cluster: KubeCluster) -> str:
    """A namespace for the test's release."""
    helmkit.create_namespace(helm_cluster, "supersvg")
    return "supersvg"
